"""The board simulator on the wire (raw bytes, no driver) and its door model."""

from __future__ import annotations

import asyncio

import serial

from simulators.locks import LockBusSimulator, SimBoard, SimLock


def h(text: str) -> bytes:
    return bytes.fromhex(text)


class TcpClient:
    """A plain TCP client standing in for an RS485-to-Ethernet bridge user."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str) -> TcpClient:
        host, port = url.removeprefix("socket://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def ask(self, request: bytes, reply_len: int, within: float = 1.0) -> bytes:
        self.writer.write(request)
        await self.writer.drain()
        return await asyncio.wait_for(self.reader.readexactly(reply_len), within)

    async def silence(self, request: bytes, wait: float = 0.15) -> bytes:
        """Send and collect whatever comes back within `wait` (b"" = silence)."""
        self.writer.write(request)
        await self.writer.drain()
        try:
            return await asyncio.wait_for(self.reader.read(100), wait)
        except TimeoutError:
            return b""

    def close(self) -> None:
        self.writer.close()


async def test_cu16_status_over_pty_matches_reference() -> None:
    async with LockBusSimulator("cu16", [0]) as sim:
        path = await sim.start_pty()

        def exchange() -> bytes:
            with serial.serial_for_url(path, baudrate=19200, timeout=1.0) as port:
                port.write(h("02 00 30 03 35"))
                return port.read(9)

        assert await asyncio.to_thread(exchange) == h("02 00 35 FF FF 00 00 03 38")  # hardware.md §1.2


async def test_cu48_reference_reply_reproduced() -> None:
    # hardware.md §1.1 example: locks 1, 2, 3, 47, 48 locked, the other 43 open.
    async with LockBusSimulator("cu48", [0]) as sim:
        for n in range(4, 47):
            sim.set_lock_faults(0, n, auto_close=False)
            sim.open_door(0, n)
        client = await TcpClient.connect(await sim.start_tcp())
        reply = await client.ask(h("02 00 00 50 03 55"), 12)
        client.close()
    assert reply == h("02 00 00 65 07 00 00 00 00 C0 03 31")


async def test_cu48_unlock_is_silent_and_releases_the_lock() -> None:
    async with LockBusSimulator("cu48", [0], open_delay_s=0.0, close_after_s=10) as sim:
        client = await TcpClient.connect(await sim.start_tcp())
        assert await client.silence(h("02 00 00 51 03 56")) == b""
        assert sim.door_states(0)[1] is True
        reply = await client.ask(h("02 00 00 50 03 55"), 12)
        client.close()
    assert reply[4] & 0x01 == 0  # lock 1 no longer reads locked


async def test_cu48_broadcast_answers_once_per_board_in_address_order() -> None:
    async with LockBusSimulator("cu48", [2, 0, 1]) as sim:
        sim.set_board_faults(1, dead=True)
        client = await TcpClient.connect(await sim.start_tcp())
        replies = await client.ask(h("02 0A 00 50 03 5F"), 24)
        assert await client.silence(b"") == b""  # nothing more: board 1 is dead
        assert await client.silence(h("02 0A 00 51 03 60")) == b""  # broadcast unlock: refused
        client.close()
        assert sim.broadcast_unlocks == 1
        assert all(not lock.door_open for lock in sim.board(0).locks.values())
    assert [replies[1], replies[13]] == [0x00, 0x02]
    assert replies[:12] == h("02 00 00 65 FF FF FF FF FF FF 03 64")  # 02+65+6*FF+03 = 0x664


async def test_cu16_unlock_answered_with_status_echoing_addr() -> None:
    async with LockBusSimulator("cu16", [1], open_delay_s=0.0, close_after_s=10) as sim:
        client = await TcpClient.connect(await sim.start_tcp())
        # unlock lock 3 of board 1: ADDR 12; 02+12+31+03 = 48
        reply = await client.ask(h("02 12 31 03 48"), 9)
        # other boards stay silent
        assert await client.silence(h("02 00 30 03 35")) == b""
        client.close()
    assert reply == h("02 12 35 FB FF 00 00 03 46")  # lock 3 reads unlocked


async def test_polarity_and_item_sensors() -> None:
    board = SimBoard(0, 16, hook_locked_bit=0, item_sensors=True)
    async with LockBusSimulator("cu16", [board]) as sim:
        sim.set_lock_faults(0, 9, item_present=True)
        client = await TcpClient.connect(await sim.start_tcp())
        reply = await client.ask(h("02 00 30 03 35"), 9)
        client.close()
    # all locked with "0 = locked": D1 D2 = 00; item in 9: D4 = 01; 02+35+01+03 = 3B
    assert reply == h("02 00 35 00 00 00 01 03 3B")


async def test_board_faults_on_the_wire() -> None:
    async with LockBusSimulator("cu16", [0, 1, 2], seed=7) as sim:
        sim.set_board_faults(0, corrupt="bad_sum")
        sim.set_board_faults(1, late_s=0.2)
        sim.set_board_faults(2, corrupt="noise")
        client = await TcpClient.connect(await sim.start_tcp())
        bad = await client.ask(h("02 00 30 03 35"), 9)
        assert bad[:-1] == h("02 00 35 FF FF 00 00 03") and bad[-1] != 0x38
        assert await client.silence(h("02 10 30 03 45"), wait=0.1) == b""
        late = await asyncio.wait_for(client.reader.readexactly(9), 0.5)
        assert late == h("02 10 35 FF FF 00 00 03 48")
        noisy = await client.silence(h("02 20 30 03 55"), wait=0.2)
        assert noisy.endswith(h("02 20 35 FF FF 00 00 03 58")) and len(noisy) > 9
        assert 0x02 not in noisy[:-9]
        client.close()
        assert sim.frames_received == 3


async def test_garbage_and_rejected_requests_are_counted() -> None:
    async with LockBusSimulator("cu16", [0], seed=3) as sim:
        sim.set_board_faults(0, corrupt="garbage")
        client = await TcpClient.connect(await sim.start_tcp())
        junk = await client.ask(h("FF 02 00 30 03 99 02 00 30 03 35"), 9)
        client.close()
        assert junk[0] == 0x02 and junk != h("02 00 35 FF FF 00 00 03 38")
        assert sim.rejected_frames == 1 and sim.frames_received == 1


def test_door_model_timeline() -> None:
    lock = SimLock(1, open_delay_s=0.5, close_after_s=2.0)
    lock.pulse(10.0)
    assert lock.hook_locked(10.4) is True  # latch released, person not there yet
    assert lock.hook_locked(10.5) is False  # door open
    assert lock.hook_locked(12.4) is False
    assert lock.hook_locked(12.5) is True  # closed 2 s after opening
    assert lock.pulses == 1


def test_door_faults() -> None:
    jammed = SimLock(1, open_delay_s=0.0, jammed=True)
    jammed.pulse(0.0)
    assert jammed.hook_locked(5.0) is True and jammed.pulses == 1
    stays = SimLock(2, open_delay_s=0.0, auto_close=False)
    stays.pulse(0.0)
    assert stays.hook_locked(1000.0) is False
    stays.close(1000.0)
    assert stays.hook_locked(1000.0) is True
    stuck = SimLock(3, open_delay_s=0.0, sensor="stuck_locked")
    stuck.pulse(0.0)
    assert stuck.door_open is True and stuck.hook_locked(0.1) is True
    tamper = SimLock(4, close_after_s=1.0)
    tamper.force_open(0.0)
    assert tamper.hook_locked(0.5) is False and tamper.pulses == 0
    assert tamper.hook_locked(1.0) is True
