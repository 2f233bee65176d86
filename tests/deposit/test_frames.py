"""The worked example of docs/deposit-machine.md, byte-exact on the wire over a pty and over TCP."""

from __future__ import annotations

import re

import pytest

from deposit import Command, ContainerEvent, ContainerKind
from simulators.deposit import CATALOGUE, SimulatedDepositMachine
from tests.conftest import REPO

from .conftest import Recorder


def crc16_modbus(data: bytes) -> bytes:
    """CRC-16/MODBUS written from its public definition (poly 0xA001 reflected, init 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


def frame(text: str) -> bytes:
    return bytes.fromhex(text)


# (request, reply) in order; the docs show the same hex.
EXAMPLE = [
    # read the FIFO registers HR 4..12: oldest of 2 pending events is seq 1042, session 87, GTIN 9520000010010
    ("0A 03 00 04 00 09 C5 76", "0A 03 12 00 02 04 12 00 57 00 00 08 A8 8C 38 07 1A 00 01 00 19 D5 E4"),
    # persist, then ack 1042 (write single register HR 13); the echo is the request
    ("0A 06 00 0D 04 12 9B BF", "0A 06 00 0D 04 12 9B BF"),
    # the same ack again (a retry after a lost reply): stale, ignored, nothing else removed
    ("0A 06 00 0D 04 12 9B BF", "0A 06 00 0D 04 12 9B BF"),
    # the next event: 1 pending, seq 1043, GTIN 9520000020026, reusable, 0.15 €
    ("0A 03 00 04 00 09 C5 76", "0A 03 12 00 01 04 13 00 57 00 00 08 A8 8C 38 2E 3A 00 02 00 0F 13 E4"),
    # close the session: read HR 20..23 (last accepted seq 1, done 1), write cmd 2 with seq 2, poll until done 2
    ("0A 03 00 14 00 04 05 76", "0A 03 08 00 01 00 01 00 01 00 00 CC 33"),
    ("0A 10 00 14 00 02 04 00 02 00 02 F6 75", "0A 10 00 14 00 02 00 B7"),
    ("0A 03 00 14 00 04 05 76", "0A 03 08 00 02 00 02 00 02 00 00 4B 33"),
]


def test_crc_of_the_public_check_vector() -> None:
    # CRC-16/MODBUS check value for ASCII "123456789" is 0x4B37 (CRC catalogue), sent low byte first;
    # hardware.md §6.4 frame: read 1 register at 0x0100 from unit 1.
    assert crc16_modbus(b"123456789") == bytes([0x37, 0x4B])
    assert crc16_modbus(frame("01 03 01 00 00 01")) == frame("85 F6")


@pytest.mark.parametrize("hex_frame", [text for pair in EXAMPLE for text in pair])
def test_every_example_frame_has_a_correct_crc(hex_frame: str) -> None:
    data = frame(hex_frame)
    assert crc16_modbus(data[:-2]) == data[-2:]


def test_the_docs_show_these_frames() -> None:
    text = (REPO / "docs" / "deposit-machine.md").read_text(encoding="utf-8")
    shown = {" ".join(match.split()) for match in re.findall(r"`((?:[0-9A-F]{2} )+[0-9A-F]{2})`", text)}
    for request, reply in EXAMPLE:
        assert request in shown and reply in shown, (request, reply)


@pytest.mark.parametrize("transport", ["tcp", "pty"])
async def test_worked_example_on_the_wire(start_line, driver, recorder: Recorder, transport: str) -> None:
    machine = SimulatedDepositMachine(10, last_seq=1038, last_session=86)
    sim, url = await start_line(machine, transport=transport)
    deposit = driver(url, trace=recorder)
    assert (await deposit.open_session()).session_id == 87
    for container in (CATALOGUE[3], CATALOGUE[5], CATALOGUE[1], CATALOGUE[0], CATALOGUE[4]):
        machine.insert(container)  # seq 1039 … 1043
    for seq in (1039, 1040, 1041):
        await deposit.ack_event(seq)
    recorder.events.clear()
    sim.frames.clear()

    oldest = await deposit.read_oldest_event()
    assert oldest == ContainerEvent(1042, 87, 9520000010010, ContainerKind.SINGLE_USE, 25)
    await deposit.ack_event(1042)
    await deposit.ack_event(1042)
    following = await deposit.read_oldest_event()
    assert following == ContainerEvent(1043, 87, 9520000020026, ContainerKind.REUSABLE, 15)
    outcome = await deposit.send_command(Command.CLOSE_SESSION)
    assert (outcome.seq, outcome.writes) == (2, 1)

    expected = [(frame(request), frame(reply)) for request, reply in EXAMPLE]
    assert recorder.exchanges() == expected
    device_rx = b"".join(data for _t, direction, data in sim.frames if direction == "rx")
    device_tx = [data for _t, direction, data in sim.frames if direction == "tx"]
    assert device_rx == b"".join(request for request, _reply in expected)
    assert device_tx == [reply for _request, reply in expected]
    assert machine.stats.acks_applied == 4 and machine.stats.acks_ignored == 1
