"""ZVT over RS232 on a real pty: byte-exact framing, ACK/NAK, retries, and the simulator's line faults."""

from __future__ import annotations

import asyncio

import pytest

from payments.zvt import GOODS_ISSUED, Approved, EndOfDay, OutcomeUnknown, TerminalStatus, ZvtTimers
from payments.zvt.errors import LinkError, ReceiveTimeout
from payments.zvt.serial_link import SerialLinkTransport
from simulators.link import PtyLink
from simulators.zvt import Outcome

from .zvt_vectors import ECRTERM_APPROVAL_FRAME

pytestmark = pytest.mark.timeout(30)
FAST_TIMERS_SERIAL = ZvtTimers(t1_inter_byte=0.2, t2_frame_ack=0.5, t3_ack=1.0, t4_dialogue=2.0, connect_s=1.0)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def reference_frame(apdu: bytes) -> bytes:
    """The frame function printed in zvt.md §10.1 (an independent oracle, not the code under test)."""
    crc = 0
    for b in apdu + b"\x03":
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return b"\x10\x02" + apdu.replace(b"\x10", b"\x10\x10") + b"\x10\x03" + bytes([crc & 0xFF, crc >> 8])


class Peer:
    """The terminal side of a pty, driven byte by byte by the test."""

    def __init__(self) -> None:
        self.link = PtyLink()
        self.buffer = bytearray()

    async def expect(self, size: int, within_s: float = 2.0) -> bytes:
        async with asyncio.timeout(within_s):
            while len(self.buffer) < size:
                self.buffer += await self.link.read()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


@pytest.fixture
async def peer():
    p = Peer()
    yield p
    p.link.close()


@pytest.fixture
async def transport(peer):
    t = SerialLinkTransport(peer.link.path, timers=FAST_TIMERS_SERIAL)
    await t.open()
    yield t
    await t.close()


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_reference_oracle_agrees_with_the_table():
    assert reference_frame(h("06 01 07 04 00 00 00 00 10 00")) == h(
        "10 02 06 01 07 04 00 00 00 00 10 10 00 10 03 62 91"
    )


async def test_command_frame_is_byte_exact_and_acknowledged(peer, transport):
    send = asyncio.create_task(transport.send(h("06 01 07 04 00 00 00 00 10 00"), now() + 2))
    assert await peer.expect(17) == h("10 02 06 01 07 04 00 00 00 00 10 10 00 10 03 62 91")
    peer.link.write(b"\x06")
    await send


async def test_nak_makes_the_sender_repeat_the_same_frame(peer, transport):
    frame = h("10 02 06 50 03 12 34 56 10 03 C4 AF")
    send = asyncio.create_task(transport.send(h("06 50 03 12 34 56"), now() + 3))
    assert await peer.expect(len(frame)) == frame
    peer.link.write(b"\x15")  # NAK
    assert await peer.expect(len(frame)) == frame
    peer.link.write(b"\x06")
    await send


async def test_missing_ack_repeats_then_gives_up_after_three_retries(peer, transport):
    frame = h("10 02 80 00 00 10 03 F5 1F")
    with pytest.raises(LinkError, match="4 attempts"):
        await transport.send(h("80 00 00"), now() + 10)
    assert await peer.expect(4 * len(frame), within_s=0.5) == frame * 4


async def test_received_frames_are_acked_and_bad_crc_naked(peer, transport):
    peer.link.write(h("10 02 80 00 00 10 03 F5 1E"))  # CRC off by one
    peer.link.write(reference_frame(h("04 0F 02 27 00")))
    apdu = await transport.receive(now() + 2)
    assert apdu == h("04 0F 02 27 00")
    assert await peer.expect(2) == b"\x15\x06"  # NAK for the bad frame, ACK for the good one


async def test_frame_with_a_doubled_dle_is_unstuffed(peer, transport):
    frame = reference_frame(h("04 0F 07 04 00 00 00 00 10 00"))
    assert frame.count(b"\x10\x10") == 1
    peer.link.write(frame)
    assert await transport.receive(now() + 2) == h("04 0F 07 04 00 00 00 00 10 00")
    assert await peer.expect(1) == b"\x06"


async def test_gap_longer_than_t1_inside_a_frame_is_naked(peer, transport):
    frame = reference_frame(h("06 0F 00"))
    receive = asyncio.create_task(transport.receive(now() + 3))
    peer.link.write(frame[:4])
    await asyncio.sleep(0.5)  # > T1 = 0.2 s
    assert await peer.expect(1) == b"\x15"
    peer.link.write(frame)
    assert await receive == h("06 0F 00")
    assert await peer.expect(1) == b"\x06"


async def test_receive_deadline_with_silence(peer, transport):
    with pytest.raises(ReceiveTimeout):
        await transport.receive(now() + 0.2)


# --- the client against the simulator over a pty -----------------------------------------------


@pytest.fixture
async def pty_client(sim, make_client):
    path = await sim.start_pty()
    return make_client(path, timers=FAST_TIMERS_SERIAL)


async def decide_issued(_status):
    return GOODS_ISSUED


async def test_vending_payment_and_end_of_day_over_serial(sim, pty_client):
    result = await pty_client.authorise(1250, decide=decide_issued)
    assert isinstance(result, Approved) and result.amount_cents == 1250
    totals = await pty_client.end_of_day()
    assert isinstance(totals, EndOfDay) and totals.total_cents == 1250


@pytest.mark.parametrize(
    "fault",
    ["corrupt_crc", "nak", "ignore", "late_bytes", "noise", "duplicate"],
)
async def test_line_faults_are_survived_and_the_payment_is_booked_once(sim, pty_client, fault):
    setattr(sim.serial_faults, fault, 2)
    result = await pty_client.authorise(1250, decide=decide_issued)
    assert isinstance(result, Approved), result
    assert getattr(sim.serial_faults, fault) == 0  # the faults really happened
    assert sim.ledger.commands.count("authorisation") == 1
    assert sim.ledger.count("payment", "booked") == 1 and sim.ledger.charged_cents() == 1250
    assert isinstance(await pty_client.status_enquiry(), TerminalStatus)


async def test_frame_retries_exhausted_is_unknown_and_nothing_runs(sim, pty_client):
    sim.serial_faults.nak = 4
    result = await pty_client.authorise(1000)
    assert isinstance(result, OutcomeUnknown) and not result.accepted
    assert "4 attempts" in result.reason
    assert sim.ledger.commands == [] and sim.ledger.transactions == []
    assert isinstance(await pty_client.authorise(1000), Approved)


async def test_line_cut_after_approval_over_serial(sim, pty_client):
    sim.script_next(Outcome.DROP_AFTER_APPROVAL)
    result = await pty_client.authorise(1250, decide=decide_issued)
    assert isinstance(result, OutcomeUnknown) and result.status is not None and result.status.approved
    assert sim.ledger.transactions[0].state == "reversed"
    status = await pty_client.status_enquiry()  # the line is back for the next command
    assert isinstance(status, TerminalStatus) and status.ready
    assert sim.ledger.commands.count("authorisation") == 1


async def test_ecrterm_approval_frame_on_the_wire_is_approved_and_acknowledged(peer, make_client):
    """wirelane/ecrterm's captured status-information frame, byte for byte on a pty (issue #10)."""
    client = make_client(peer.link.path, timers=FAST_TIMERS_SERIAL)
    paying = asyncio.create_task(client.authorise(4000))
    command = reference_frame(h("06 01 07 04 00 00 00 00 40 00"))
    assert await peer.expect(len(command)) == command
    peer.link.write(b"\x06" + reference_frame(h("80 00 00")))
    assert await peer.expect(1) == b"\x06"
    peer.link.write(ECRTERM_APPROVAL_FRAME)
    ack_frame = h("10 02 80 00 00 10 03 F5 1F")
    assert await peer.expect(1 + len(ack_frame)) == b"\x06" + ack_frame  # transport ACK, then 80 00 00
    peer.link.write(b"\x06" + reference_frame(h("06 0F 00")))
    assert await peer.expect(1 + len(ack_frame)) == b"\x06" + ack_frame
    peer.link.write(b"\x06")
    result = await paying
    assert isinstance(result, Approved) and (result.amount_cents, result.receipt_no, result.trace_no) == (
        4000,
        175,
        613995,
    )
