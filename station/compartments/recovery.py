"""Compartments left in a transient status with no flow holding them any more (a crash, a lost flow).

Runs at start-up once the flows that hold compartments (purchases; restock and pick-up as they come)
have recovered their own rows: those settle their compartments through the owner. What is still
reserved, restocking or collecting after that belongs to nobody, and is put to rest here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from common.tasks import cancel_tasks

from ..components import ComponentHealth, Status
from ..db.engine import Database
from ..flows.engine import check_recovery, recover
from . import owner
from .flow import COMPARTMENT

log = logging.getLogger(__name__)

Holders = Callable[[Session], set[int]]  # compartments an unfinished flow still holds
WAIT_FOR_FLOWS_S = 120.0


class CompartmentRecovery:
    """A component: `start()` waits for the holding flows' recovery, then settles the orphans."""

    name = "compartments"

    def __init__(self, db: Database, holders: Iterable[Holders] = (), wait_for: Iterable[asyncio.Event] = ()) -> None:
        self.db = db
        self.holders = list(holders)
        self.wait_for = list(wait_for)
        self.settled: list[int] = []
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        check_recovery(COMPARTMENT, self)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="compartment-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_tasks([self._task])

    async def run(self) -> None:
        for event in self.wait_for:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), WAIT_FOR_FLOWS_S)
        rows = await self.db.read(COMPARTMENT.unfinished)
        held: set[int] = set()
        for holder in self.holders:
            held |= await self.db.read(holder)
        orphans = [(comp, state) for comp, state in rows if comp not in held]
        if orphans:
            log.warning("compartments left %s by a flow that no longer holds them",
                        ", ".join(f"{c} {s}" for c, s in orphans))
        await recover(orphans, COMPARTMENT, self)
        self.done.set()

    async def _settle(self, fn: Callable[[Session, int], None], compartment: int) -> None:
        await self.db.write_until_committed(lambda s: fn(s, compartment), what="compartment recovery")
        self.settled.append(compartment)

    async def on_reserved(self, compartment: int) -> None:
        await self._settle(owner.recover_reserved, compartment)

    async def on_restocking(self, compartment: int) -> None:
        await self._settle(owner.recover_restocking, compartment)

    async def on_collecting(self, compartment: int) -> None:
        await self._settle(owner.recover_collecting, compartment)

    def health(self) -> ComponentHealth:
        return ComponentHealth(Status.UP if self.done.is_set() else Status.DEGRADED, {"settled": self.settled})

    def progress(self) -> float | None:
        return None


