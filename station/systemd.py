"""sd_notify(3) without a library: READY, STOPPING, STATUS and WATCHDOG datagrams."""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends notifications to systemd when started by it (NOTIFY_SOCKET set); no-op otherwise."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET")
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        enabled = usec is not None and (pid is None or pid == str(os.getpid()))
        self.watchdog_s: float | None = int(usec) / 1_000_000 if enabled and usec else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, message: str) -> bool:
        if not self.address:
            return False
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            # Non-blocking: called on the event loop, which must never wait for the reader. A full
            # queue (Linux keeps 10 datagrams by default, net.unix.max_dgram_qlen) drops this one.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
                sock.sendto(message.encode(), address)
            return True
        except OSError:  # BlockingIOError included: the watchdog is fed again on the next check
            return False

    def ready(self, status: str = "running") -> bool:
        return self.notify(f"READY=1\nSTATUS={status}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")
