"""A small TCP fault proxy on loopback (toxiproxy's useful subset): cut links, add latency, refuse.

It listens on 127.0.0.1 and forwards only to 127.0.0.1, so tests and the benchmark can
never be pointed at a real host. `cut()` resets every live connection (both sides), `refuse`
closes new ones at once, `latency_s` delays each direction (RTT = 2 × latency_s),
`refuse_subscriptions = N` turns the next N SUBACKs from the broker into refusals (0x80 for every
topic), as a clustered broker that is still electing its leaders sends them. `blackhole = True`
makes every link half-open: connections stay up but nothing gets through in either direction, as
when a rural LTE link dies without a reset (only the MQTT keepalive can tell).

    python -m simulators.mqtt.faultproxy --target-port 1883 --latency-ms 25   # 50 ms RTT
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"


@dataclass
class ProxyStats:
    connections: int = 0
    cuts: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    subacks_refused: int = 0
    bytes_swallowed: int = 0


class SubackRefuser:
    """Rewrites SUBACK return codes to 0x80 in the broker-to-client byte stream, packet by packet."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.buffer = bytearray()
        self.level = 4  # MQTT 3.1.1 until the client's CONNECT says otherwise

    def sniff_connect(self, data: bytes) -> None:
        """Learn the protocol level from the client's CONNECT (MQTT 5 puts properties before the codes)."""
        used = _remaining_length(data)[1]
        name_at = 1 + used
        if data[:1] == b"\x10" and used and len(data) > name_at + 2:
            level_at = name_at + 2 + int.from_bytes(data[name_at : name_at + 2], "big")
            if len(data) > level_at:
                self.level = data[level_at]

    def feed(self, data: bytes) -> bytes:
        """Returns the bytes that form complete packets (rewritten where due); keeps the rest."""
        self.buffer += data
        out = bytearray()
        while (size := _packet_size(self.buffer)) is not None:
            packet = bytearray(self.buffer[:size])
            del self.buffer[:size]
            if packet[0] == 0x90 and self.proxy.refuse_subscriptions > 0:
                self.proxy.refuse_subscriptions -= 1
                self.proxy.stats.subacks_refused += 1
                codes = 1 + _remaining_length(packet)[1] + 2  # fixed header, then the 2-byte packet id
                if self.level >= 5:
                    props, used = _remaining_length(packet[codes - 1 :])  # same varint encoding
                    codes += used + props
                packet[codes:] = b"\x80" * (size - codes)
            out += packet
        return bytes(out)


def _remaining_length(buf: bytes | bytearray) -> tuple[int, int]:
    """MQTT's variable-length 'remaining length' after the first byte: (value, bytes it took) or (-1, 0)."""
    value, shift = 0, 0
    for i in range(1, min(len(buf), 5)):
        value |= (buf[i] & 0x7F) << shift
        if not buf[i] & 0x80:
            return value, i
        shift += 7
    return -1, 0


def _packet_size(buf: bytes | bytearray) -> int | None:
    length, used = _remaining_length(buf)
    if length < 0 or len(buf) < 1 + used + length:
        return None
    return 1 + used + length


class FaultProxy:
    def __init__(self, target_port: int, *, port: int = 0, latency_s: float = 0.0, target_host: str = LOOPBACK) -> None:
        if target_host != LOOPBACK:
            raise ValueError("the fault proxy only forwards to 127.0.0.1")
        self.target_port, self.port, self.latency_s = target_port, port, latency_s
        self.refuse = False
        self.refuse_subscriptions = 0
        self.blackhole = False
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def cut(self) -> int:
        """Reset every open connection; returns how many were cut."""
        links = list(self._links)
        for client, upstream in links:
            for writer in (client, upstream):
                transport = writer.transport
                if not transport.is_closing():
                    transport.abort()
        self._links.clear()
        if links:
            self.stats.cuts += 1
        return len(links)

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            c_writer.transport.abort()
            return
        try:
            u_reader, u_writer = await asyncio.open_connection(LOOPBACK, self.target_port)
        except OSError:
            c_writer.transport.abort()
            return
        self.stats.connections += 1
        link = (c_writer, u_writer)
        self._links.add(link)
        refuser = SubackRefuser(self) if self.refuse_subscriptions else None
        for reader, writer, up in ((c_reader, u_writer, True), (u_reader, c_writer, False)):
            task = asyncio.create_task(self._pump(reader, writer, up, link, refuser))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up: bool,
        link: tuple,
        refuser: SubackRefuser | None = None,
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._deliver(queue, writer))
        first = True
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if up:
                    self.stats.bytes_up += len(data)
                    if refuser is not None and first:
                        refuser.sniff_connect(data)
                else:
                    self.stats.bytes_down += len(data)
                first = False
                if self.blackhole:
                    self.stats.bytes_swallowed += len(data)
                    continue
                if refuser is not None and not up:
                    data = refuser.feed(data)
                    if not data:  # only part of a packet so far; an empty chunk would end the link
                        continue
                await queue.put((time.monotonic() + self.latency_s, data))
            await queue.put((0.0, b""))
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()
            self._links.discard(link)
            for w in link:
                w.transport.abort()

    @staticmethod
    async def _deliver(queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        while True:
            due, data = await queue.get()
            if not data:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()


async def _serve(args: argparse.Namespace) -> None:
    proxy = await FaultProxy(args.target_port, port=args.port, latency_s=args.latency_ms / 1000).start()
    print(proxy.port, flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="TCP fault proxy on 127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added per direction")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
