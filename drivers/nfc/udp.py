"""Helpers for nfcpy's `udp:host:port` device (the simulated reader field used by tests and the demo).

nfcpy's UDP driver sends from an unconnected socket, so it never learns that nobody listens: every
poll just times out after 1 s, exactly like an empty field. A connected probe socket does get the
ICMP "port unreachable" as ECONNREFUSED, which lets the driver report the reader down.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
from typing import Any

UDP_DRIVER_MODULE = "nfc.clf.udp"


def udp_peer(clf: Any) -> tuple[str, int] | None:
    """(host, port) the opened nfcpy frontend talks to, or None when it is not the UDP driver."""
    device = getattr(clf, "device", None)
    if device is None or type(device).__module__ != UDP_DRIVER_MODULE:
        return None
    host, port = device.addr
    return str(host), int(port)


class UdpPeerProbe:
    """Tells whether something listens on the peer's UDP port, by sending empty datagrams.

    An empty datagram carries no frame: nfcpy peers and our simulator ignore it.
    """

    def __init__(self, peer: tuple[str, int]) -> None:
        self.peer = peer
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.connect(peer)

    def check(self, wait_s: float = 0.0) -> str | None:
        """None while the peer accepts datagrams, else why not; waits up to `wait_s` for an ICMP error."""
        error = self._pending_error()
        if error is None:
            try:
                self._sock.send(b"")
            except OSError as exc:
                error = exc.errno or errno.EIO
            else:
                if wait_s > 0:
                    select.select([self._sock], [], [], wait_s)
                error = self._pending_error()
        if error is None:
            return None
        host, port = self.peer
        return f"nothing answers on udp:{host}:{port} ({os.strerror(error).lower()}): is the simulator running?"

    def _pending_error(self) -> int | None:
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return code or None

    def close(self) -> None:
        self._sock.close()


def wake_udp_device(clf: Any) -> None:
    """End a UDP poll that is waiting for an answer now (used by stop(), so it need not wait ~1 s).

    nfcpy's UDP driver treats a datagram reading `RFOFF` as the field going off and abandons the
    wait; the poll then finds no card and the worker sees the stop request.
    """
    if clf is None or udp_peer(clf) is None:
        return
    sock = getattr(clf.device, "socket", None)
    if sock is None:
        return
    try:
        port = sock.getsockname()[1]
    except OSError:  # closed meanwhile: nothing is waiting on it
        return
    if not port:
        return
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
        waker.sendto(b"RFOFF", ("127.0.0.1", port))
