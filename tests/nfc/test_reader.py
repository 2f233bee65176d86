"""The async NfcReader against the simulator: one event per tap, several cards, down as a state, clean stop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from drivers.nfc import NfcReader, TagRead
from simulators.nfc import NfcTagSimulator, Ntag213

from .conftest import BADGE_UID, CARD_UID, fast_settings, polls, wait_until


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nfc-reader-")]


def _down_up_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "drivers.nfc.reader" and " is " in r.getMessage()]


async def test_one_tap_gives_one_event_with_uid_and_ndef(sim: NfcTagSimulator) -> None:
    async with NfcReader(fast_settings(sim.device_path), name="door") as reader:
        stream = reader.taps()
        await reader.wait_for_state(available=True)
        sim.present()
        async with asyncio.timeout(5):
            tap = await anext(stream)
        assert isinstance(tap, TagRead)
        # (the product name is asserted where nfcpy and the simulator share the process with nothing else:
        # nfcpy gives GET_VERSION 10 ms, which a starved simulator thread can miss -> "Mifare Ultralight")
        assert (tap.uid_hex, tap.technology, tap.tag_type) == (BADGE_UID, "106A", "Type2Tag")
        assert tap.uris == ["https://dorfladen.example/badge/17"]
        assert tap.texts == ["Helferin Anna"] and tap.ndef_records[1].language == "de"
        assert tap.ndef_records[0].type == "urn:nfc:wkt:U" and tap.ndef_records[0].payload[0] == 0x04  # https://
        assert abs(tap.at - time.time()) < 5

        # The card stays on the reader for ten more polls: still one event.
        held_since = time.time()
        await wait_until(lambda: polls(sim, held_since, answered=True) >= 10, what="ten polls with the card held")
        assert reader.taps_seen == 1

        # Taken away (the reader sees the empty field), then held again: the second tap.
        sim.remove()
        removed_at = time.time()
        await wait_until(lambda: polls(sim, removed_at, answered=False) >= 1, what="a poll of the empty field")
        sim.present()
        async with asyncio.timeout(5):
            again = await anext(stream)
        assert again.uid_hex == BADGE_UID and reader.taps_seen == 2


async def test_a_card_back_within_the_debounce_time_is_the_same_tap(sim: NfcTagSimulator) -> None:
    settings = fast_settings(sim.device_path, debounce_s=3.0)  # longer than the UDP driver's 1 s empty poll
    async with NfcReader(settings) as reader:
        stream = reader.taps()
        sim.present()
        async with asyncio.timeout(5):
            await anext(stream)
        sim.remove()
        removed_at = time.time()
        await wait_until(lambda: polls(sim, removed_at, answered=False) >= 1, what="a poll of the empty field")
        sim.present()
        back_at = time.time()
        await wait_until(lambda: polls(sim, back_at, answered=True) >= 3, what="three polls with the card back")
        assert reader.taps_seen == 1


async def test_a_second_card_is_its_own_tap(sim: NfcTagSimulator, other_card: Ntag213) -> None:
    async with NfcReader(fast_settings(sim.device_path)) as reader:
        stream = reader.taps()
        sim.present()
        async with asyncio.timeout(5):
            first = await anext(stream)
        sim.present(other_card)  # swapped at once, no gap: a different UID is a new tap regardless
        async with asyncio.timeout(5):
            second = await anext(stream)
        assert (first.uid_hex, second.uid_hex) == (BADGE_UID, CARD_UID)
        assert second.texts == ["Kundenkarte"] and second.uris == []


async def test_every_consumer_gets_every_tap(sim: NfcTagSimulator) -> None:
    plain: list[str] = []
    from_coroutine: list[str] = []
    got_both = asyncio.Event()

    async def on_tap_async(tap: TagRead) -> None:
        from_coroutine.append(tap.uid_hex)
        got_both.set()

    async with NfcReader(fast_settings(sim.device_path)) as reader:
        unsubscribe = reader.subscribe(lambda tap: plain.append(tap.uid_hex))
        reader.subscribe(on_tap_async)
        stream_a, stream_b = reader.taps(), reader.taps()
        sim.present()
        async with asyncio.timeout(5):
            a, b = await anext(stream_a), await anext(stream_b)
            await got_both.wait()
        assert a == b and plain == from_coroutine == [BADGE_UID]
        unsubscribe()
        assert reader._tap_callbacks == [on_tap_async]


async def test_bad_device_path_is_a_down_state_retried_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.nfc")
    async with NfcReader(fast_settings("tty:USB97:pn532"), name="kiosk") as reader:
        async with asyncio.timeout(5):
            snapshot = await reader.wait_for_state(available=False)
        assert snapshot.last_error == (
            "cannot open NFC reader tty:USB97:pn532: no such reader (unplugged, wrong path, or no driver for it)"
        )
        await wait_until(lambda: reader.snapshot().failures >= 3, what="three open attempts")
    assert _down_up_lines(caplog) == [f"NFC reader kiosk (tty:USB97:pn532) is down: {snapshot.last_error}"]


async def test_simulator_gone_is_down_and_back_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.nfc")
    first = NfcTagSimulator(BADGE_UID)
    port = first.start("127.0.0.1", 0)
    async with NfcReader(fast_settings(first.device_path), name="door") as reader:
        stream = reader.taps()
        async with asyncio.timeout(5):
            await reader.wait_for_state(available=True)
        first.close()  # the reader is unplugged
        async with asyncio.timeout(5):
            down = await reader.wait_for_state(available=False)
        assert down.last_error == (
            f"nothing answers on udp:127.0.0.1:{port} (connection refused): is the simulator running?"
        )
        await wait_until(lambda: reader.snapshot().failures >= 2, what="a failed reopen")

        second = NfcTagSimulator(CARD_UID)  # plugged in again, same device path
        second.start("127.0.0.1", port)
        try:
            async with asyncio.timeout(5):
                await reader.wait_for_state(available=True)
            second.present()
            async with asyncio.timeout(5):
                tap = await anext(stream)
            assert tap.uid_hex == CARD_UID
        finally:
            second.close()
    path = f"udp:127.0.0.1:{port}"
    assert _down_up_lines(caplog) == [
        f"NFC reader door ({path}) is up",
        f"NFC reader door ({path}) is down: {down.last_error}",
        f"NFC reader door ({path}) is back",
    ]


async def test_stop_during_an_empty_poll_is_quick_and_ends_the_streams(sim: NfcTagSimulator) -> None:
    reader = NfcReader(fast_settings(sim.device_path))
    reader.start()
    stream = reader.taps()
    ended = asyncio.ensure_future(anext(stream))
    polling_since = time.time()
    # nfcpy is now inside its 1 s wait for an answer to this poll
    await wait_until(lambda: polls(sim, polling_since, answered=False) >= 1, what="a poll of the empty field")
    started = time.monotonic()
    await reader.stop()
    took = time.monotonic() - started
    assert took < 1.0, f"stop took {took:.3f} s"
    assert _reader_threads() == []
    with pytest.raises(StopAsyncIteration):
        await ended
    with pytest.raises(LookupError):
        await reader.next_tap()
    await reader.stop()  # twice is fine


async def test_stop_while_down_does_not_wait_for_the_backoff() -> None:
    reader = NfcReader(fast_settings("tty:USB97:pn532", reconnect_min_s=30.0, reconnect_max_s=60.0))
    reader.start()
    async with asyncio.timeout(5):
        await reader.wait_for_state(available=False)
    started = time.monotonic()
    await reader.stop()
    assert time.monotonic() - started < 1.0 and _reader_threads() == []


async def test_stop_with_a_card_held(sim: NfcTagSimulator) -> None:
    sim.present()
    reader = NfcReader(fast_settings(sim.device_path))
    reader.start()
    async with asyncio.timeout(5):
        await reader.next_tap()
    started = time.monotonic()
    await reader.stop()
    assert time.monotonic() - started < 1.0 and _reader_threads() == []
