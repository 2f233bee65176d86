"""A scripted shopper for the simulated return machine: seeded containers, fed while a session is open."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deposit.gs1 import check_digit
from deposit.protocol import ContainerKind, RejectReason

from .machine import Container, InsertResult, SimulatedDepositMachine


def demo_gtin(item: int) -> int:
    """A GTIN-13 under GS1 prefix 952, which GS1 reserves for demonstrations and examples."""
    data = f"952{item:09d}"
    return int(f"{data}{check_digit(data)}")


# What a village shop takes back (amounts: hardware.md §3.1; a station's real amounts come from config).
CATALOGUE: tuple[Container, ...] = (
    Container(demo_gtin(1001), ContainerKind.SINGLE_USE, 25),  # PET bottle 0.5 l
    Container(demo_gtin(1002), ContainerKind.SINGLE_USE, 25),  # can 0.33 l
    Container(demo_gtin(1003), ContainerKind.SINGLE_USE, 25),  # PET bottle 1.5 l
    Container(demo_gtin(2001), ContainerKind.REUSABLE, 8),  # beer bottle 0.5 l
    Container(demo_gtin(2002), ContainerKind.REUSABLE, 15),  # swing-top beer bottle
    Container(demo_gtin(2003), ContainerKind.REUSABLE, 15),  # water glass bottle 0.7 l
    Container(demo_gtin(2004), ContainerKind.REUSABLE, 15),  # yoghurt jar
    Container(demo_gtin(3001), ContainerKind.CRATE, 150),  # empty crate
)
REJECT_REASONS = (RejectReason.UNKNOWN_ITEM, RejectReason.NO_DEPOSIT_MARK, RejectReason.DAMAGED)


@dataclass
class FeedReport:
    """What happened to the containers the shopper brought."""

    accepted: list[Container] = field(default_factory=list)
    rejected: list[Container] = field(default_factory=list)
    not_inserted: list[Container] = field(default_factory=list)
    lost_in_transport: list[Container] = field(default_factory=list)  # session ended while it was moving
    session_id: int | None = None
    ended: str = "all inserted"  # or why the shopper stopped


class Shopper:
    """Picks containers with a seeded RNG and feeds them into the machine at the shopper's pace."""

    def __init__(self, machine: SimulatedDepositMachine, rng: random.Random) -> None:
        self.machine = machine
        self.rng = rng

    def pick(self, count: int, *, reject_rate: float = 0.0) -> list[Container]:
        """`count` containers from the catalogue; about `reject_rate` of them are handed back by the machine."""
        picked = []
        for _ in range(count):
            container = self.rng.choice(CATALOGUE)
            if reject_rate and self.rng.random() < reject_rate:
                container = Container(
                    container.gtin, container.kind, container.deposit_cents, self.rng.choice(REJECT_REASONS)
                )
            picked.append(container)
        return picked

    async def feed(
        self,
        containers: Sequence[Container],
        *,
        pace_s: float = 0.0,
        transport_s: float = 0.0,
        give_up_s: float = 10.0,
        after_each: Callable[[int, InsertResult], None] | None = None,
    ) -> FeedReport:
        """Wait for a session, then insert each container (waiting while the FIFO is full).

        Stops early when the session ends (fault, bin full, power loss, closed by the host) or when
        the machine refuses for `give_up_s`. `after_each(index, result)` runs after every insert,
        which is where a test injects a fault at a given container.
        """
        report = FeedReport()
        machine = self.machine
        if not await self._wait(lambda: machine.session_open and machine.powered, give_up_s):
            report.not_inserted = list(containers)
            report.ended = "no session opened"
            return report
        report.session_id = machine.session_id
        for index, container in enumerate(containers):
            if not await self._wait(lambda: machine.can_take() or not self._same_session(report), give_up_s):
                report.ended = "machine did not take the container (FIFO full?)"
            elif not self._same_session(report):
                report.ended = f"session ended ({machine.state.name.lower()})"
            else:
                result = machine.begin_insert(container)
                if result is InsertResult.ACCEPTED:
                    if transport_s:
                        await asyncio.sleep(transport_s)
                    credited = machine.finish_insert() is not None
                    (report.accepted if credited else report.lost_in_transport).append(container)
                elif result is InsertResult.REJECTED:
                    report.rejected.append(container)
                if after_each is not None:
                    after_each(index, result)
                if pace_s:
                    await asyncio.sleep(pace_s)
                continue
            report.not_inserted.extend(containers[index:])
            break
        return report

    def _same_session(self, report: FeedReport) -> bool:
        return self.machine.powered and self.machine.session_open and self.machine.session_id == report.session_id

    async def _wait(self, condition: Callable[[], bool], within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self.machine.wait_change(min(remaining, 0.5))
        return True
