"""A locker wall of three CU16 boards on a simulated RS485 line over a real pty."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from simulators.locks import LockBusSimulator
from station.config import Config, parse_config
from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, Compartment, DoorOperation, OutboxEvent
from station.lockwall import LockWall
from tests.conftest import minimal_config

BOARDS = (0, 1, 2)


def wall_config(
    db_path: Path,
    port: str,
    *,
    open_detect_s: float = 0.6,
    left_open_s: float = 30.0,
    poll_hz: float = 10,
    item_sensors: bool = False,
) -> Config:
    sensors = "item_sensors = true\n" if item_sensors else ""
    boards = "".join(f"[[lock_buses.wall.boards]]\naddress = {b}\n{sensors}" for b in BOARDS)
    compartments = "".join(
        f'[[compartments]]\nid = {b * 16 + lock}\nbus = "wall"\nboard = {b}\nlock = {lock}\n'
        for b in BOARDS
        for lock in (1, 2)
    )
    extra = f"""
[lock_buses.wall]
port = "{port}"
protocol = "cu16"
timeout_ms = 150
gap_ms = 2
poll_hz = {poll_hz}
{boards}
[doors]
open_detect_s = {open_detect_s}
left_open_alarm_s = {left_open_s}
{compartments}"""
    return parse_config(minimal_config(db_path) + extra)


class Wall:
    """The simulator, the database and a factory for LockWall services on the same pty."""

    def __init__(self, sim: LockBusSimulator, db: Database, make: Callable[..., Config]) -> None:
        self.sim, self.db, self.make_config = sim, db, make
        self.services: list[LockWall] = []

    async def service(self, **config_kw: float | bool) -> LockWall:
        wall = LockWall(self.make_config(**config_kw), self.db)
        await wall.start()
        self.services.append(wall)
        for bus in wall.buses.values():
            await bus.wait_probed(5)
        return wall

    def alarms(self) -> list[tuple[str, str, str]]:
        return self.db.run_sync(
            lambda s: [(a.kind, a.subject, a.state) for a in s.scalars(select(Alarm).order_by(Alarm.id))]
        )

    def events(self) -> list[str]:
        return self.db.run_sync(lambda s: list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id))))

    def operations(self) -> list[tuple[int, str, int]]:
        return self.db.run_sync(
            lambda s: [(o.compartment_id, o.state, o.attempts) for o in s.scalars(select(DoorOperation))]
        )

    def compartment(self, compartment: int) -> str:
        return self.db.run_sync(lambda s: s.get_one(Compartment, compartment).status)

    def door_state(self, compartment: int) -> str | None:
        return self.db.run_sync(lambda s: s.get_one(Compartment, compartment).door_state)

    async def until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)


@pytest.fixture
async def wall(tmp_path: Path) -> AsyncIterator[Wall]:
    sim = LockBusSimulator("cu16", BOARDS, open_delay_s=0.05, close_after_s=0.4)
    port = await sim.start_pty()
    db_path = tmp_path / "station.db"
    migrate.upgrade(db_path)
    db = Database(db_path)
    await db.start()
    harness = Wall(sim, db, lambda **kw: wall_config(db_path, port, **kw))
    yield harness
    for service in harness.services:
        await service.stop()
    await db.stop()
    await sim.stop()
