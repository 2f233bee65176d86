"""The blocking side of the NFC reader: nfcpy's connect loop, run in one worker thread.

One `connect()` call is one poll: `terminate` lets nfcpy sense once and then return, so between
polls the worker can pause (interruptibly), check that the device is still there and see a stop.
Results go back to the event loop through the two thread-safe callbacks given to the worker.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import ndef
import nfc
import nfc.clf
import nfc.tag

from common.backoff import Backoff

from .events import NdefRecord, TagRead, records_from_ndeflib
from .settings import NfcReaderSettings
from .udp import UdpPeerProbe, udp_peer

log = logging.getLogger(__name__)

UDP_OPEN_WAIT_S = 0.2  # how long opening waits for an ICMP refusal from the simulator's port

OnTap = Callable[[TagRead], None]
OnState = Callable[[bool, str | None], None]  # (available, error)


class Debouncer:
    """A card is a new tap when it has not been seen for longer than `hold_s` (held still = seen every poll)."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._last_seen: dict[str, float] = {}

    def is_new_tap(self, uid: str, now: float) -> bool:
        last = self._last_seen.get(uid)
        self._last_seen[uid] = now
        for other, seen in list(self._last_seen.items()):
            if now - seen > self.hold_s:
                del self._last_seen[other]
        return last is None or now - last > self.hold_s


class ReaderWorker:
    """Open the reader, poll it, report taps and availability; reopen with backoff when it is lost."""

    def __init__(
        self,
        settings: NfcReaderSettings,
        on_tap: OnTap,
        on_state: OnState,
        stop: threading.Event,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._on_tap = on_tap
        self._on_state = on_state
        self._stop = stop
        self._monotonic = monotonic
        self._clock = clock
        self._backoff = Backoff(base=settings.reconnect_min_s, cap=settings.reconnect_max_s)
        self._debounce = Debouncer(settings.debounce_s)
        self.clf: Any = None  # the open nfcpy ContactlessFrontend (read by stop() to wake a UDP poll)

    def run(self) -> None:
        """Thread body: until stopped, serve the reader; every loss is one 'down' report and a backoff."""
        while not self._stop.is_set():
            error = self._serve()
            if error is None:
                return
            self._on_state(False, error)
            if self._stop.wait(self._backoff.next_delay()):
                return

    def _serve(self) -> str | None:
        """Open and poll until the reader is lost (returns why) or a stop is requested (returns None)."""
        try:
            clf = nfc.ContactlessFrontend(self.settings.device)
        except Exception as exc:  # nfcpy raises OSError subclasses, socket.gaierror, ValueError for bad paths
            return describe_open_error(self.settings.device, exc)
        self.clf = clf
        probe: UdpPeerProbe | None = None
        try:
            if peer := udp_peer(clf):
                try:
                    probe = UdpPeerProbe(peer)
                except OSError as exc:  # e.g. no route to that host
                    return f"cannot reach udp:{peer[0]}:{peer[1]}: {exc.strerror or exc}"
                if error := probe.check(wait_s=UDP_OPEN_WAIT_S):
                    return error
            self._on_state(True, None)
            return self._poll_until_lost(clf, probe)
        except Exception as exc:  # a bug or an error nfcpy does not catch: reopen rather than end the thread
            log.exception("NFC reader %s: unexpected error while polling", self.settings.device)
            return f"unexpected error on {self.settings.device}: {type(exc).__name__}: {exc}"
        finally:
            self.clf = None
            if probe is not None:
                probe.close()
            try:
                clf.close()
            except Exception:  # closing a device that is gone can fail in many ways; it is closed either way
                log.debug("closing %s failed", self.settings.device, exc_info=True)

    def _poll_until_lost(self, clf: Any, probe: UdpPeerProbe | None) -> str | None:
        while not self._stop.is_set():
            if probe is not None and (error := probe.check()):
                return error
            if self._poll(clf) is False:
                return f"lost the reader on {self.settings.device} (I/O error or unsupported technology)"
            self._backoff.reset()  # only a working poll resets it: a reader that opens and fails at once backs off
            if self._stop.wait(self.settings.poll_s):
                return None
        return None

    def _poll(self, clf: Any) -> bool:
        """One sense (and activation) over the configured technologies; False when nfcpy lost the device."""
        discovered: list[tuple[Any, float]] = []  # (target, when it answered)
        calls = 0

        def terminate() -> bool:
            nonlocal calls
            calls += 1
            return calls > 1 or self._stop.is_set()

        def on_discover(target: Any) -> bool:
            discovered.append((target, self._monotonic()))
            return True

        result = clf.connect(
            rdwr={
                "targets": list(self.settings.targets),
                "on-discover": on_discover,
                "on-connect": lambda tag: False,  # return the tag at once; we read it and poll again
                "iterations": 1,
                "beep-on-connect": False,
            },
            terminate=terminate,
        )
        if result is False:
            return False
        if discovered:
            # Debounce on the moment the card answered: activating a card that is leaving can take
            # nfcpy seconds of timeouts, which must not make a card held a moment ago look new.
            target, seen_at = discovered[-1]
            tag = result if isinstance(result, nfc.tag.Tag) else None
            self._report(target, seen_at, tag)
        return True

    def _report(self, target: Any, seen_at: float, tag: Any | None) -> None:
        """Emit a tap for a card seen at `seen_at` unless it is the same tap; `tag` is None if activation failed."""
        uid = bytes(tag.identifier).hex().upper() if tag is not None else target_uid(target)
        if not uid or not self._debounce.is_new_tap(uid, seen_at):
            return
        if tag is None:  # sensed but not activated (unknown card type, or it left at once): the UID is known
            self._on_tap(TagRead(uid, str(target.brty), (), self._clock()))
            return
        records = read_ndef(tag)
        self._on_tap(TagRead(uid, str(target.brty), records, self._clock(), str(tag.type), str(tag.product)))


def read_ndef(tag: Any) -> tuple[NdefRecord, ...]:
    """The NDEF records on the card; none when it has no NDEF data or left the field while being read."""
    try:
        message = tag.ndef
        return records_from_ndeflib(message.records) if message is not None else ()
    except (nfc.tag.TagCommandError, nfc.clf.CommunicationError, ndef.DecodeError) as exc:
        log.debug("NDEF of %s not readable: %s", bytes(tag.identifier).hex().upper(), exc)
        return ()


def target_uid(target: Any) -> str | None:
    """UID of a sensed card: NFCID1 (Type A), NFCID0/PUPI (Type B) or IDm (FeliCa)."""
    if target.sdd_res:
        return bytes(target.sdd_res).hex().upper()
    if target.sensb_res:
        return bytes(target.sensb_res[1:5]).hex().upper()
    if target.sensf_res:
        return bytes(target.sensf_res[1:9]).hex().upper()
    return None


_OPEN_HINTS = {
    errno.ENODEV: "no such reader (unplugged, wrong path, or no driver for it)",
    errno.EACCES: "permission denied (add a udev rule or the plugdev group; `python -m nfc` prints one)",
    errno.EBUSY: "busy: pcscd or a kernel driver (pn533_usb, port100) holds it; `python -m nfc` shows how to free it",
}


def describe_open_error(device: str, exc: Exception) -> str:
    """One line saying why `device` could not be opened, with the usual remedy."""
    if isinstance(exc, OSError) and exc.errno in _OPEN_HINTS:
        return f"cannot open NFC reader {device}: {_OPEN_HINTS[exc.errno]}"
    return f"cannot open NFC reader {device}: {type(exc).__name__}: {exc}"
