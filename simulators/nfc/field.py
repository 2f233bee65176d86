"""Cards in a reader's field, served over nfcpy's UDP driver so unmodified nfcpy reads them.

Wire format of nfcpy's `udp` driver (nfc/clf/udp.py): one ASCII datagram per frame,
`"<bitrate-type> <hex>"` such as `b"106A 26"`, without CRC_A; `RFOFF` when the reader switches its
field off. The card answers to the sender with the same bitrate-type. An NTAG213 is a Type A card,
so Type B and Type F polls (`106B …`, `212F …`) get no answer, exactly like a real one.

The responder runs in its own thread with a blocking socket: nfcpy waits only 5-10 ms for some
replies (READ, GET_VERSION), which an event loop busy with other work could miss.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
import select
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import ndef

from .ntag213 import Ntag213, Ntag213Responder

log = logging.getLogger(__name__)

TYPE_A_106 = "106A"


@dataclass(frozen=True)
class TagFaults:
    """Fault knobs: replies lost in the air (seeded) and a slow card."""

    drop_rate: float = 0.0  # share of replies never sent, 0..1
    reply_delay_s: float = 0.0  # delay before each reply


@dataclass(frozen=True)
class Exchange:
    """One frame from the reader and the card's reply (None: silence)."""

    at: float
    bitrate_type: str
    frame: bytes
    reply: bytes | None


def format_frame(bitrate_type: str, data: bytes) -> bytes:
    return f"{bitrate_type} {data.hex()}".encode("ascii")


def parse_frame(datagram: bytes) -> tuple[str, bytes] | None:
    """(bitrate-type, frame) of one datagram, or None when it carries no frame."""
    parts = datagram.split()
    if len(parts) != 2:
        return None
    try:
        return parts[0].decode("ascii"), bytes.fromhex(parts[1].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


class NfcTagSimulator:
    """NTAG213 cards held to (and taken away from) a simulated reader field on UDP.

    `NfcTagSimulator(uid=..., ndef=[...])` defines a default card; `present()` holds it (or any other
    `Ntag213`) to the reader, `remove()` takes it away. One card is in the field at a time; presenting
    another swaps them. Open the reader with `device_path` ("udp:127.0.0.1:PORT").
    """

    def __init__(
        self,
        uid: bytes | str | None = None,
        ndef_records: Iterable[ndef.Record] | bytes = (),
        *,
        faults: TagFaults | None = None,
        seed: int = 0,
        log_size: int = 2000,
    ) -> None:
        self.card = Ntag213.create(uid, ndef_records) if uid is not None else None
        self.faults = faults or TagFaults()
        self.exchanges: collections.deque[Exchange] = collections.deque(maxlen=log_size)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._responder: Ntag213Responder | None = None
        self._session: tuple[str, int] | None = None
        self._sock: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] | None = None

    # -- cards -----------------------------------------------------------------------------------
    @property
    def in_field(self) -> Ntag213 | None:
        responder = self._responder
        return responder.card if responder else None

    def present(self, card: Ntag213 | None = None) -> Ntag213:
        """Hold `card` (default: the card given to the constructor) to the reader."""
        card = card or self.card
        if card is None:
            raise ValueError("no card: give one or construct the simulator with a uid")
        with self._lock:
            self._responder = Ntag213Responder(card)
        return card

    def remove(self) -> None:
        """Take the card away from the reader."""
        with self._lock:
            self._responder = None

    # -- serving ---------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 = any free port) in a background thread; returns the port."""
        if self._thread is not None:
            raise RuntimeError("already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, port))
        self._sock = sock
        self.address = sock.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, name=f"nfc-sim-{self.address[1]}", daemon=True)
        self._thread.start()
        return self.address[1]

    @property
    def device_path(self) -> str:
        """The nfcpy device path of this simulated reader field."""
        if self.address is None:
            raise RuntimeError("not started")
        return f"udp:{self.address[0]}:{self.address[1]}"

    def stop(self) -> None:
        """Stop answering and close the socket (the port refuses datagrams afterwards)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._wake_w.send(b"x")
            thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self.stop()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> NfcTagSimulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        while True:
            readable, _, _ = select.select([sock, self._wake_r], [], [])
            if self._wake_r in readable:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(64)
                return
            try:
                datagram, sender = sock.recvfrom(2048)
            except OSError:  # e.g. an ICMP error queued from an earlier reply to a closed reader socket
                continue
            reply = self.handle_datagram(datagram, sender)
            if reply is not None:
                with contextlib.suppress(OSError):  # the reader may have closed its socket meanwhile
                    sock.sendto(reply, sender)

    def handle_datagram(self, datagram: bytes, sender: tuple[str, int]) -> bytes | None:
        """The datagram to send back for one received datagram (None: the card stays silent)."""
        if datagram.strip() == b"RFOFF":
            with self._lock:
                if self._responder is not None:
                    self._responder.field_off()
                self._session = None
            return None
        parsed = parse_frame(datagram)
        if parsed is None:
            return None  # an empty probe or garbage: nothing a card could react to
        bitrate_type, frame = parsed
        with self._lock:
            reply = self._answer(bitrate_type, frame, sender)
        self.exchanges.append(Exchange(time.time(), bitrate_type, frame, reply))
        if reply is None or self._rng.random() < self.faults.drop_rate:
            return None
        if self.faults.reply_delay_s:
            time.sleep(self.faults.reply_delay_s)
        return format_frame(bitrate_type, reply)

    def _answer(self, bitrate_type: str, frame: bytes, sender: tuple[str, int]) -> bytes | None:
        responder = self._responder
        if responder is None or bitrate_type != TYPE_A_106:
            return None
        if sender != self._session:
            # nfcpy opens a new socket for every poll after switching the field off; a frame from
            # a new sender is a new field, and a card that lost power starts over in IDLE.
            responder.field_off()
            self._session = sender
        return responder.handle(frame)
