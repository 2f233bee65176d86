"""SerialTransport.exchange/collect: a request and its reply in one hop to the port's thread (loop://)."""

from __future__ import annotations

import threading

import pytest

from drivers.serialio import ReadFn, SerialTransport, TransportError


async def test_exchange_drops_stale_input_writes_and_collects_the_reply_in_the_ports_thread() -> None:
    traced: list[tuple[str, bytes]] = []
    port = SerialTransport("loop://", name="echo", trace=lambda kind, data: traced.append((kind, data)))
    await port.open()
    try:
        await port.write(b"stale")  # loop:// echoes: this is input waiting before the exchange
        traced.clear()
        threads: list[str] = []

        def collect(read: ReadFn) -> bytes:
            threads.append(threading.current_thread().name)
            return read(2, 0.5) + read(2, 0.5) + read(5, 0.05)  # the last read times out with 0 of 5

        junk, sent_at, reply = await port.exchange(b"ping", collect)
        assert (junk, reply) == (b"stale", b"ping")
        assert sent_at > 0 and threads[0].startswith("serial-echo")
        assert traced == [("rx-dropped", b"stale"), ("tx", b"ping"), ("rx", b"pi"), ("rx", b"ng")]
        traced.clear()
        await port.write(b"ok")
        assert await port.collect(lambda read: read(8, 0.05)) == b"ok"
        assert traced == [("tx", b"ok"), ("rx", b"ok")]
    finally:
        await port.close()


async def test_exchange_on_a_closed_port_is_a_transport_error() -> None:
    port = SerialTransport("loop://")
    with pytest.raises(TransportError):
        await port.exchange(b"x", lambda read: read(1, 0.01))
    with pytest.raises(TransportError):
        await port.collect(lambda read: read(1, 0.01))


async def test_what_was_dropped_and_written_is_traced_also_when_the_reply_cannot_be_read() -> None:
    traced: list[tuple[str, bytes]] = []
    port = SerialTransport("loop://", name="echo", trace=lambda kind, data: traced.append((kind, data)))
    await port.open()
    try:
        await port.write(b"old")
        traced.clear()

        def collect(read: ReadFn) -> bytes:
            read(2, 0.5)
            raise ValueError("the line went away")  # as pyserial does; the transport makes it a TransportError

        with pytest.raises(TransportError, match="the line went away"):
            await port.exchange(b"ping", collect)
        assert traced == [("rx-dropped", b"old"), ("tx", b"ping"), ("rx", b"pi")]
    finally:
        await port.close()
