"""A terminal that says something unexpected: clear results, bounded time, never a crash or a hang.

The fake terminals here are scripted byte by byte over a real TCP socket (reference bytes typed in).
"""

from __future__ import annotations

import time

from payments.zvt import OutcomeUnknown, Registered, UnknownMessage

from .conftest import h, read_apdu, until


async def test_unreadable_status_information_is_answered_negatively_and_reported_unknown(fake_terminal, make_client):
    async def script(reader, writer, received):
        received.append(await read_apdu(reader))
        writer.write(h("80 00 00"))
        writer.write(h("04 0F 03 99 01 02"))  # BMP 99 does not exist
        received.append(await read_apdu(reader))
        writer.write(h("06 1E 01 6C"))
        received.append(await read_apdu(reader))
        await reader.read()

    url, received = await fake_terminal(script)
    result = await make_client(url).authorise(1000)
    assert isinstance(result, OutcomeUnknown)
    assert "unknown BMP tag 99" in result.reason
    await until(lambda: len(received) == 3)
    assert received == [h("06 01 07 04 00 00 00 00 10 00"), h("84 9A 00"), h("80 00 00")]


async def test_garbage_bytes_end_in_a_bounded_unknown_outcome(fake_terminal, make_client):
    async def script(reader, writer, received):
        received.append(await read_apdu(reader))
        writer.write(b"\xff\xff\xff hello")  # looks like an extended length of 0x6820 bytes, then stops
        await reader.read()

    url, _received = await fake_terminal(script)
    started = time.monotonic()
    result = await make_client(url).authorise(1000)
    assert isinstance(result, OutcomeUnknown) and not result.accepted
    assert "cut short" in result.reason
    assert time.monotonic() - started < 2.5


async def test_connection_closed_after_acceptance(fake_terminal, make_client):
    async def script(reader, writer, received):
        received.append(await read_apdu(reader))
        writer.write(h("80 00 00 04 FF 01 0A"))  # accepted, "insert card", then the line dies
        await writer.drain()

    url, _received = await fake_terminal(script)
    result = await make_client(url).authorise(1000)
    assert isinstance(result, OutcomeUnknown) and result.accepted
    assert "link lost" in result.reason


async def test_silent_terminal_never_accepts(fake_terminal, make_client):
    async def script(reader, writer, received):
        received.append(await read_apdu(reader))
        await reader.read()

    url, received = await fake_terminal(script)
    started = time.monotonic()
    result = await make_client(url).authorise(1000)
    assert isinstance(result, OutcomeUnknown) and not result.accepted
    assert 0.9 <= time.monotonic() - started < 2.0  # T3 = 1 s
    assert received == [h("06 01 07 04 00 00 00 00 10 00")]  # asked once, never repeated


async def test_unknown_messages_are_acknowledged_and_reported(fake_terminal, make_client):
    async def script(reader, writer, received):
        received.append(await read_apdu(reader))
        writer.write(h("80 00 00 06 D8 02 01 02"))
        received.append(await read_apdu(reader))
        writer.write(h("06 0F 00"))
        received.append(await read_apdu(reader))

    url, received = await fake_terminal(script)
    seen = []
    result = await make_client(url).register(observer=seen.append)
    assert isinstance(result, Registered)
    assert seen[0] == UnknownMessage(0x06, 0xD8, h("01 02"))
    await until(lambda: len(received) == 3)
    assert received[1:] == [h("80 00 00"), h("80 00 00")]


async def test_terminal_that_skips_the_acknowledgement(fake_terminal, make_client):
    async def script(reader, writer, received):
        received.append(await read_apdu(reader))
        writer.write(h("04 0F 02 27 00"))  # no 80 00 00 first
        received.append(await read_apdu(reader))
        writer.write(h("06 0F 00"))
        received.append(await read_apdu(reader))

    url, received = await fake_terminal(script)
    result = await make_client(url).authorise(1000)
    assert result.ok and result.amount_cents is None  # approved, the PT sent no amount
    await until(lambda: len(received) == 3)
    assert received[1:] == [h("80 00 00"), h("80 00 00")]
