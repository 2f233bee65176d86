"""The daemon: one asyncio loop, components started in order and stopped in reverse."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

from . import __version__
from .api.app import create_app
from .clock import Clock, SystemClock
from .components import Component, Status
from .config import Config
from .config.overlay import OverlayState
from .db.engine import Database
from .dbcomponent import DatabaseComponent
from .httpserver import HttpComponent
from .systemd import Notifier
from .watchdog import HealthLoop

log = logging.getLogger(__name__)

SIMULATION_NOTICE = "SIMULATION: this station runs on simulated hardware"
STOP_BUDGET_S = 4.0  # SIGTERM to exit well within 5 s


class Station:
    """Owns the components; constructing it does no I/O."""

    def __init__(
        self,
        config: Config,
        *,
        notifier: Notifier | None = None,
        overlay: OverlayState | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock(config.station.timezone)  # the station's day (dates on goods)
        self.overlay = overlay or OverlayState("none")
        self.simulated = bool(config.simulation and config.simulation.enabled)
        self.notifier = notifier or Notifier()
        self.db = Database(config.database.path, config.database.busy_timeout_ms)
        self.database = DatabaseComponent(self.db)
        self.components: list[Component] = [self.database]
        self.http = HttpComponent(create_app(self), config.http.host, config.http.port)
        self.health_loop = HealthLoop(self)
        self.lockwall: Any = None  # set by the assembly when lock buses are configured
        self.coldchain: Any = None  # ... when fridges are configured
        self.terminal: Any = None  # ... when a payment terminal is configured
        self.purchases: Any = None  # ... when both are
        self.receipts: Any = None  # the receipt desk (digital receipts), always built by the assembly
        self.printing: Any = None  # ... when a printer is configured
        self.vouchers: Any = None  # ... when deposit returns or payments are configured
        self.deposit: Any = None  # ... when a deposit return machine is configured
        self.sync: Any = None  # ... when MQTT is configured
        self._started: list[Component] = []
        self._stop_requested: asyncio.Event | None = None
        self.started_at = time.time()

    def add(self, component: Component) -> None:
        """Register a component before start(); the HTTP server always starts last."""
        self.components.append(component)

    def component(self, name: str) -> Any:
        return next((c for c in self.components if c.name == name), None)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self.simulated:
            log.warning("%s", SIMULATION_NOTICE)
        log.info("station %s starting (version %s)", self.config.station.id, __version__)
        for component in [*self.components, self.http]:
            await component.start()
            self._started.append(component)
        await self.health_loop.start()
        self.notifier.ready(SIMULATION_NOTICE if self.simulated else "running")
        log.info("station %s ready", self.config.station.id)

    async def stop(self) -> None:
        """Stop in reverse order; each step time-boxed and isolated so one failure cannot block the rest."""
        self.notifier.stopping()
        await self.health_loop.stop()
        deadline = time.monotonic() + STOP_BUDGET_S
        while self._started:
            component = self._started.pop()
            # Whatever is left of the budget, keeping a little for each component still to stop.
            timeout = max(0.5, deadline - time.monotonic() - 0.25 * len(self._started))
            try:
                await asyncio.wait_for(component.stop(), timeout=timeout)
            except Exception:  # one failing stop must not block the others
                log.exception("stopping %s failed", component.name)
        log.info("station %s stopped", self.config.station.id)

    def request_stop(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT, stop."""
        self._stop_requested = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stop_requested.wait()
            log.info("stop requested")
        finally:
            await self.stop()

    # -- reporting -----------------------------------------------------------------------
    def device_status(self) -> dict[str, Any]:
        """For the heartbeat: each component's status, and the fridges' last temperatures."""
        devices = {c.name: str(c.health().status) for c in self.components if c.name != "sync"}
        temperatures: dict[str, float] = {}
        if self.coldchain is not None:
            for name, ctl in self.coldchain.health().detail.get("controllers", {}).items():
                if isinstance(ctl.get("celsius"), int | float):
                    temperatures[name] = ctl["celsius"]
        return {"devices": devices, "temperatures": temperatures}

    async def health_report(self) -> dict[str, Any]:
        """Every component's health, on the loop that owns their state; the outbox depth read now."""
        outbox = await self.database.outbox()  # before the components: what they report is no older
        components = {}
        for component in [*self.components, self.http]:
            h = component.health()
            components[component.name] = {
                "status": str(h.status),
                "simulated": h.simulated or self.simulated,
                "detail": h.detail,
            }
        statuses = {c["status"] for c in components.values()}
        overall = (
            Status.DOWN
            if components["database"]["status"] == "down"
            else (Status.UP if statuses == {"up"} else Status.DEGRADED)
        )
        return {
            "station_id": self.config.station.id,
            "version": __version__,
            "status": str(overall),
            "simulated": self.simulated,
            "notice": SIMULATION_NOTICE if self.simulated else None,
            "outbox": outbox,
            "config_overlay": self.overlay.as_dict(),
            "components": components,
        }
