"""The terminal simulator seen from a raw ECR (bytes typed in from the reference, no client code)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from payments.zvt.messages import Completion, IntermediateStatus, PrintLine, StatusInformation, parse_message
from simulators.zvt import Outcome, ZvtSimulator

from .conftest import FAST_SIM


def h(text: str) -> bytes:
    return bytes.fromhex(text)


class RawEcr:
    """A station written by hand: raw APDUs over TCP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str) -> RawEcr:
        host, port = url.removeprefix("tcp://").rsplit(":", 1)
        return cls(*await asyncio.open_connection(host, int(port)))

    def send(self, apdu: bytes) -> None:
        self.writer.write(apdu)

    async def read(self, within_s: float = 2.0) -> bytes:
        async with asyncio.timeout(within_s):
            header = await self.reader.readexactly(3)
            return header + await self.reader.readexactly(header[2])

    async def until_status(self) -> list:
        """Acknowledge everything up to the first status information, which is returned unanswered."""
        seen = []
        while True:
            message = parse_message(await self.read())
            seen.append(message)
            if isinstance(message, StatusInformation):
                return seen
            self.send(h("80 00 00"))

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def ecr(tcp_url):
    raw = await RawEcr.connect(tcp_url)
    yield raw
    raw.close()


VENDING_12_50 = h("06 01 09 04 00 00 00 00 12 50 02 0A")  # authorise 12.50 EUR, BMP 02 = 10


@pytest.mark.parametrize(("policy", "state", "end"), [("reverse", "reversed", "06 1E 01 6C"), ("book", "booked", None)])
async def test_unanswered_approval_is_reversed_or_booked_as_configured(sim, ecr, policy, state, end):
    sim.config.on_lost_ack, sim.config.ack_timeout_s = policy, 0.3
    ecr.send(VENDING_12_50)
    assert await ecr.read() == h("80 00 00")
    seen = await ecr.until_status()
    assert seen[-1].approved and seen[-1].amount_cents == 1250
    # no answer from us: the terminal decides on its own
    after = await ecr.read()
    if end is not None:
        assert after.startswith(h("04 FF 01 05")) or after == h(end)
    else:
        assert isinstance(parse_message(after), PrintLine)
    assert sim.ledger.transactions[0].state == state


async def test_partial_issue_above_the_authorised_amount_is_reversed(sim, ecr):
    ecr.send(VENDING_12_50)
    await ecr.read()
    await ecr.until_status()
    ecr.send(h("84 9D 07 04 00 00 00 00 20 00"))  # "issued 20.00" of 12.50
    messages = []
    while not messages or messages[-1][:2] not in (h("06 0F"), h("06 1E")):
        messages.append(await ecr.read())
        ecr.send(h("80 00 00"))
    assert messages[-1] == h("06 1E 01 6C")
    assert sim.ledger.transactions[0].state == "reversed"


async def test_registration_config_byte_controls_prompts_and_print_lines(sim, ecr):
    ecr.send(h("06 00 06 12 34 56 12 09 78"))  # config 12: ECR prints, ECR controls payment; no 04 FF, no 06 D1
    assert await ecr.read() == h("80 00 00")
    completion = parse_message(await ecr.read())
    assert isinstance(completion, Completion) and completion.terminal_id == "52500038"
    ecr.send(h("80 00 00"))
    ecr.send(h("06 01 07 04 00 00 00 00 10 00"))
    assert await ecr.read() == h("80 00 00")
    seen = await ecr.until_status()
    assert [type(m) for m in seen] == [StatusInformation]
    ecr.send(h("80 00 00"))
    assert isinstance(parse_message(await ecr.read()), Completion)


async def test_prompts_with_the_default_config(sim, ecr):
    ecr.send(h("06 01 07 04 00 00 00 00 10 00"))
    await ecr.read()
    seen = await ecr.until_status()
    assert [m.code for m in seen[:-1] if isinstance(m, IntermediateStatus)] == [0x0A, 0x04]


async def test_unknown_and_garbled_commands_are_refused(sim, ecr):
    ecr.send(h("06 77 00"))
    assert await ecr.read() == h("84 83 00")
    ecr.send(h("06 01 03 04 00 00"))  # amount cut short
    assert await ecr.read() == h("84 9A 00")
    ecr.send(h("05 01 03 12 34 56"))  # still answering
    assert await ecr.read() == h("80 00 00")


async def test_second_connection_is_refused_while_a_dialogue_runs(sim, tcp_url, ecr):
    sim.config.card_wait_s = 0.5
    sim.script_next(Outcome.NO_CARD)
    ecr.send(h("06 01 07 04 00 00 00 00 10 00"))
    assert await ecr.read() == h("80 00 00")
    other = await RawEcr.connect(tcp_url)
    try:
        other.send(h("05 01 03 12 34 56"))
        assert await other.read() == h("84 A0 00")
    finally:
        other.close()


async def test_same_seed_same_cards_and_fixed_clock():
    clock = lambda: dt.datetime(2025, 3, 4, 5, 6, 7)  # noqa: E731
    sims = [ZvtSimulator(FAST_SIM, seed=seed, clock=clock) for seed in (11, 11, 12)]
    cards = []
    for sim in sims:
        url = await sim.start_tcp()
        raw = await RawEcr.connect(url)
        names = []
        for _ in range(6):
            raw.send(h("06 01 07 04 00 00 00 00 10 00"))
            await raw.read()
            status = (await raw.until_status())[-1]
            assert (status.time, status.date) == ("050607", "0304")
            names.append(status.card_name)
            raw.send(h("80 00 00"))
            while (await raw.read())[:2] != h("06 0F"):
                raw.send(h("80 00 00"))
            raw.send(h("80 00 00"))
        cards.append(names)
        raw.close()
        await sim.stop()
    assert cards[0] == cards[1]
    assert cards[0] != cards[2]
