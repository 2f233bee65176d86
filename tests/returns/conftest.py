"""A whole station in-process (built by the real assembly, HTTP on a free port) against simulators over TCP:
the deposit machine on a Modbus line, the receipt printer, a CU16 lock wall and a ZVT terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deposit import ContainerKind
from simulators.deposit import Container, DepositBusSimulator, Shopper, SimulatedDepositMachine, demo_gtin
from simulators.locks import LockBusSimulator
from simulators.printer import PrinterSimulator
from simulators.zvt import SimConfig, ZvtSimulator
from station.assembly import build_station
from station.compartments.owner import sync_configured as sync_compartments
from station.config import parse_config
from station.daemon import Station
from station.db import migrate
from station.db.engine import Database
from tests.conftest import minimal_config
from tests.purchase.conftest import LOADS, seed_catalogue

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

UNIT = 10
AMOUNTS = {ContainerKind.SINGLE_USE: 25, ContainerKind.REUSABLE: 15, ContainerKind.CRATE: 150}
# What the station pays (its config), deliberately not always what the machine shows the shopper.
CAN, BEER, CRATE = demo_gtin(1002), demo_gtin(2001), demo_gtin(3001)


def containers(*kinds: tuple[int, ContainerKind, int]) -> list[Container]:
    return [Container(gtin, kind, machine_cents) for gtin, kind, machine_cents in kinds]


SEVEN = containers(
    (CAN, ContainerKind.SINGLE_USE, 25), (CAN, ContainerKind.SINGLE_USE, 25), (BEER, ContainerKind.REUSABLE, 8),
    (CRATE, ContainerKind.CRATE, 150), (BEER, ContainerKind.REUSABLE, 8), (CAN, ContainerKind.SINGLE_USE, 25),
    (BEER, ContainerKind.REUSABLE, 8),
)  # fmt: skip
SEVEN_CENTS = 3 * 25 + 3 * 15 + 150  # at the station's amounts: 2,70 €


def station_config_text(
    db_path: Path,
    *,
    deposit_url: str,
    printer_url: str | None,
    lock_url: str | None = None,
    terminal_url: str | None = None,
    http_port: int = 0,
    extra_deposit: str = "",
    poll_s: float = 0.02,
) -> str:
    """Deposit machine and printer; with `lock_url` and `terminal_url` also the lock wall and card terminal."""
    text = minimal_config(db_path, http_port)
    text += f"""
[receipts]
base_url = "http://station.test"

[modbus_lines.rs485]
port = "{deposit_url}"
baudrate = 115200
gap_ms = 1
timeout_ms = 200
retries = 1
reconnect_min_s = 0.05

[deposit]
line = "rs485"
unit = {UNIT}
poll_s = {poll_s}
idle_poll_s = 0.1
command_timeout_s = 2.0
voucher_prefix = 29
{extra_deposit}
[deposit.amounts]
single_use_cents = 25
reusable_cents = 15
crate_cents = 150

[deposit.donation]
recipient = "Tafel Musterdorf"
"""
    if printer_url is not None:
        text += f"""
[printer]
port = "{printer_url}"
status_timeout_ms = 150
status_poll_s = 1
"""
    if lock_url is not None and terminal_url is not None:
        comps = "".join(
            f'[[compartments]]\nid = {c}\nbus = "wall"\nboard = {c // 17}\nlock = {1 + (c - 1) % 16}\n' for c in LOADS
        )
        text += f"""
[lock_buses.wall]
port = "{lock_url}"
protocol = "cu16"
timeout_ms = 150
gap_ms = 2
poll_hz = 10
[[lock_buses.wall.boards]]
address = 0
[[lock_buses.wall.boards]]
address = 1

[doors]
open_detect_s = 0.4

[payment]
port = "{terminal_url}"
decide_s = 0.3
{comps}"""
    return text


@dataclass
class Rig:
    """The running station and the simulators it talks to."""

    station: Station
    http: httpx.AsyncClient
    machine: SimulatedDepositMachine
    deposit_sim: DepositBusSimulator
    printer: PrinterSimulator
    db_path: Path
    locks: LockBusSimulator | None = None
    terminal: ZvtSimulator | None = None

    @property
    def db(self) -> Database:
        return self.station.db

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        """Read the database file directly (as a person with sqlite3 would), outside the daemon's connection."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as con:
            return con.execute(query, args).fetchall()

    def sql_write(self, query: str, *args: Any) -> None:
        with contextlib.closing(sqlite3.connect(self.db_path)) as con:
            con.execute(query, args)
            con.commit()

    def shopper(self, seed: int = 1) -> Shopper:
        return Shopper(self.machine, random.Random(seed))

    async def feed(self, items: list[Container], pace_s: float = 0.0) -> asyncio.Task[Any]:
        """The shopper inserts `items` once the session is open (a task; await it for the report)."""
        return asyncio.create_task(self.shopper().feed(items, pace_s=pace_s, give_up_s=10))

    async def until(self, predicate: Callable[[], Any], within: float = 10.0, what: str = "condition") -> Any:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{what} not reached within {within} s")
            await asyncio.sleep(0.02)

    async def counted(self, return_id: str, count: int) -> bool:
        return int((await self.return_state(return_id))["count"]) == count

    async def return_state(self, return_id: str) -> dict[str, Any]:
        reply = await self.http.get(f"/api/returns/{return_id}")
        assert reply.status_code == 200, reply.text
        return reply.json()


@contextlib.asynccontextmanager
async def running_station(
    tmp: Path, *, with_shop: bool = False, printer: PrinterSimulator | None = None, extra_deposit: str = "",
    machine: SimulatedDepositMachine | None = None, poll_s: float = 0.02,
) -> AsyncIterator[Rig]:
    machine = machine or SimulatedDepositMachine(UNIT, fifo_capacity=16, seed=3)
    deposit_sim = DepositBusSimulator([machine], fridge_units=[1], seed=3)
    printer = printer or PrinterSimulator(seed=1)
    locks = terminal = None
    lock_url = terminal_url = None
    deposit_url = await deposit_sim.start_tcp()
    printer_url = await printer.start_tcp()
    if with_shop:
        locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.05, close_after_s=0.3)
        terminal = ZvtSimulator(SimConfig(seed=7, step_s=0.005, card_wait_s=0.3, resend_s=0.1, ack_timeout_s=1.0))
        lock_url = await locks.start_tcp()
        terminal_url = (await terminal.start_tcp()).replace("socket://", "tcp://")
    db_path = tmp / "station.db"
    migrate.upgrade(db_path)
    config = parse_config(station_config_text(db_path, deposit_url=deposit_url, printer_url=printer_url,
                                              lock_url=lock_url, terminal_url=terminal_url,
                                              extra_deposit=extra_deposit, poll_s=poll_s))
    if with_shop:
        db = Database(db_path)
        db.open_sync()
        db.run_sync(lambda s: (sync_compartments(s, config.compartments), seed_catalogue(s)))
        db.close_sync()
    station = build_station(config)
    await station.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{station.http.bound_port}", timeout=10) as http:
            rig = Rig(station, http, machine, deposit_sim, printer, db_path, locks, terminal)
            await rig.until(lambda: station.deposit.recovered, what="deposit service ready")
            if with_shop:
                await rig.until(lambda: station.purchases.recovery.done, what="purchase recovery")
                for bus in station.lockwall.buses.values():
                    await bus.wait_probed(5)
            yield rig
    finally:
        await station.stop()
        for sim in (deposit_sim, printer, locks, terminal):
            if sim is not None:
                await sim.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_station(tmp_path) as ready:
        yield ready


@pytest.fixture
async def shop_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_station(tmp_path, with_shop=True) as ready:
        yield ready
