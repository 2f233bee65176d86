"""`ZvtSimulator`: the simulated terminal on TCP and/or a pty, with its control interface."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

from simulators.link import PtyLink, SimLink, serve_tcp, server_port

from .channels import SerialChannel, SerialFaults, TcpChannel, TcpFaults
from .ledger import Ledger
from .script import Outcome, Script, SimConfig
from .terminal import TerminalCore


class ZvtSimulator:
    """One simulated terminal; reachable over TCP (`start_tcp`) and/or serial (`start_pty`).

    Control: `script_next(...)`, `busy_commands`, `lock_state`, `serial_faults`, `tcp_faults`,
    `config` (mutable, e.g. `config.on_lost_ack`); inspect `ledger`, `events` and `received` (every APDU from the ECR).
    """

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        # A copy: tests and the demo change knobs on `sim.config` without touching the caller's object.
        self.config = dataclasses.replace(config or SimConfig(), **overrides)
        self.core = TerminalCore(self.config)
        self.serial_faults = SerialFaults()
        self.tcp_faults = TcpFaults()
        self._server: asyncio.Server | None = None
        self._pty: PtyLink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: set[SimLink] = set()

    # --- control -----------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        return self.core.ledger

    @property
    def events(self) -> list[str]:
        return self.core.events

    @property
    def received(self) -> list[bytes]:
        """Every APDU the ECR sent (commands and acknowledgements), byte-exact."""
        return self.core.received

    def script_next(self, *items: Outcome | Script) -> None:
        self.core.script_next(*items)

    @property
    def busy_commands(self) -> int:
        return self.core.busy_commands

    @busy_commands.setter
    def busy_commands(self, value: int) -> None:
        self.core.busy_commands = value

    @property
    def lock_state(self) -> int:
        return self.core.lock_state

    @lock_state.setter
    def lock_state(self, value: int) -> None:
        self.core.lock_state = value

    @property
    def registered(self) -> bool:
        return self.core.registered

    # --- links -------------------------------------------------------------------------------

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on TCP; returns the `tcp://host:port` URL the station uses."""

        async def handler(link: SimLink) -> None:
            self._links.add(link)
            try:
                await self.core.serve(TcpChannel(link, self.tcp_faults))
            finally:
                self._links.discard(link)

        self._server = await serve_tcp(handler, host, port)
        return f"tcp://{host}:{server_port(self._server)}"

    async def start_pty(self) -> str:
        """Open a pty; returns the path the station opens as its serial port."""
        self._pty = PtyLink()
        channel = SerialChannel(
            self._pty,
            self.serial_faults,
            t1=self.config.t1_s,
            frame_ack_s=self.config.frame_ack_s,
            rng=self.core.rng,
        )
        task = asyncio.create_task(self.core.serve(channel), name="zvt-sim-pty")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self._pty.path

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):  # open ECR connections end too: the terminal is gone
            link.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    async def __aenter__(self) -> ZvtSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
