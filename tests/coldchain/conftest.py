"""A cold room on a simulated Modbus line over a real pty, a migrated database and the ColdChain service.

Time is one `ManualClock` shared by the simulator's thermal models and the service, so an hour of
fridge physics passes in a few hundred milliseconds of polling.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from drivers.fridge import load_map
from simulators.fridge import FridgeBusSimulator, ManualClock, ThermalParams
from station.coldchain import ColdChain
from station.compartments.owner import sync_configured as sync_compartments
from station.config import Config, parse_config
from station.config.fridge import HaccpConfig
from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, Compartment, CompartmentContent, OutboxEvent, Product
from station.db.types import utcnow
from tests.conftest import minimal_config

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

START = 1_800_000_000.0  # 2027-01-15 08:00 UTC
POLL_S = 60
UNITS = {"k1": 1, "tk1": 2, "k2": 3}

# compartment -> (zone, products loaded); products by temperature class
LAYOUT: dict[int, tuple[str | None, list[str]]] = {
    1: ("kuehl", ["milk"]),
    2: ("kuehl", ["minced"]),
    3: ("kuehl", []),
    4: ("kuehl", ["jam"]),
    5: ("tk", ["peas"]),
    6: ("kuehl2", ["milk"]),
    7: (None, ["jam"]),
    8: ("kuehl2", []),
}
PRODUCTS = {  # name -> (gtin, temperature class)
    "milk": ("4000000000017", "chilled"),
    "minced": ("4000000000024", "minced"),
    "jam": ("4000000000031", "ambient"),
    "peas": ("4000000000048", "frozen"),
}


def cold_config(db_path: Path, port: str, zones: dict[str, dict[str, Any]] | None = None) -> Config:
    return parse_config(cold_config_text(db_path, port, zones))


def cold_config_text(db_path: Path, port: str, zones: dict[str, dict[str, Any]] | None = None) -> str:
    compartments = "".join(
        f'[[compartments]]\nid = {cid}\nbus = "wall"\nboard = 0\nlock = {cid}\n'
        + (f'zone = "{zone}"\n' if zone else "")
        for cid, (zone, _) in LAYOUT.items()
    )
    zone_defaults = {"kuehl": "chilled", "tk": "frozen", "kuehl2": "chilled"}
    zone_text = ""
    for name, cls in zone_defaults.items():
        zone_text += f'[zones.{name}]\ntemperature_class = "{cls}"\n'
        for key, value in (zones or {}).get(name, {}).items():
            zone_text += f"{key} = {value}\n"
    fridges = "".join(
        f'[fridges.{name}]\nline = "kalt"\nunit = {unit}\nzone = "{zone}"\npoll_s = {POLL_S}\n'
        for (name, unit), zone in zip(UNITS.items(), ("kuehl", "tk", "kuehl2"), strict=True)
    )
    extra = f"""
[lock_buses.wall]
port = "loop://"
protocol = "cu16"
[[lock_buses.wall.boards]]
address = 0
{compartments}
[modbus_lines.kalt]
port = "{port}"
baudrate = 115200
gap_ms = 1
timeout_ms = 100
retries = 1
reconnect_min_s = 0.05
{fridges}
{zone_text}"""
    return minimal_config(db_path) + extra


def stock(session: Any) -> None:
    """Products and compartment contents per LAYOUT; stocked compartments are `loaded`."""
    now = utcnow()
    ids = {}
    for name, (gtin, cls) in PRODUCTS.items():
        product = Product(gtin=gtin, name=name, price_cents=199, temperature_class=cls, updated_at=now)
        session.add(product)
        session.flush()
        ids[name] = product.id
    for cid, (_zone, goods) in LAYOUT.items():
        for name in goods:
            session.add(
                CompartmentContent(
                    compartment_id=cid,
                    product_id=ids[name],
                    quantity=2,
                    best_before=date(2027, 2, 1),
                    loaded_by="volunteer:anna",
                    loaded_at=now,
                )
            )
        if goods:
            session.get_one(Compartment, cid).status = "loaded"


class ColdRoom:
    """Simulator + database + service, with helpers to let simulated time pass and look at the result."""

    def __init__(self, sim: FridgeBusSimulator, clock: ManualClock, db: Database, db_path: Path, port: str) -> None:
        self.sim, self.clock, self.db, self.db_path, self.port = sim, clock, db, db_path, port
        self.services: list[ColdChain] = []
        self.config: Config | None = None

    async def service(self, zones: dict[str, dict[str, Any]] | None = None, **kw: Any) -> ColdChain:
        self.config = cold_config(self.db_path, self.port, zones)
        config = self.config
        await self.db.write(lambda s: sync_compartments(s, config.compartments))
        kw.setdefault("haccp_config", HaccpConfig())
        service = ColdChain(self.config, self.db, clock=self.clock, run_loops=kw.pop("run_loops", False), **kw)
        await service.start()
        self.services.append(service)
        return service

    def fridge(self, name: str):  # -> SimulatedController
        return self.sim.controller(UNITS[name])

    async def run(self, service: ColdChain, seconds: float, every: float = POLL_S) -> None:
        """Let `seconds` of simulated time pass, polling every `every` seconds."""
        steps = round(seconds / every)
        for _ in range(steps):
            self.sim.advance(every)
            await service.poll_once()

    async def run_until(self, service: ColdChain, predicate: Any, limit_s: float, every: float = POLL_S) -> float:
        """Poll until predicate() holds; returns the simulated seconds it took."""
        start = self.clock()
        while not predicate():
            if self.clock() - start > limit_s:
                raise AssertionError(f"condition not reached within {limit_s} simulated seconds")
            self.sim.advance(every)
            await service.poll_once()
        return self.clock() - start

    def status(self, compartment: int) -> tuple[str, str | None]:
        """(status as the screen shows it: "blocked" while a hold is on it, blocked_reason)."""

        def read(session) -> tuple[str, str | None]:
            comp = session.get_one(Compartment, compartment)
            return ("blocked" if comp.blocked_reason else comp.status), comp.blocked_reason

        return self.db.run_sync(read, write=False)

    def alarms(self) -> list[tuple[str, str, str]]:
        return self.db.run_sync(
            lambda s: [(a.kind, a.subject, a.state) for a in s.scalars(select(Alarm).order_by(Alarm.id))], write=False
        )

    def events(self, type_: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        def q(s: Any) -> list[tuple[str, dict[str, Any]]]:
            rows = s.execute(select(OutboxEvent.type, OutboxEvent.payload).order_by(OutboxEvent.id)).all()
            return [(t, p) for t, p in rows if type_ is None or t == type_]

        return self.db.run_sync(q, write=False)


@pytest.fixture
async def room(tmp_path: Path) -> AsyncIterator[ColdRoom]:
    clock = ManualClock(START)
    # k1 holds minced meat (+2 °C) too, so it runs at 0-1.5 °C; the freezer well below -18 °C.
    units = {
        1: ThermalParams(setpoint_c=0.0, hysteresis_k=1.5),
        2: ThermalParams.freezer(setpoint_c=-22.0),
        3: ThermalParams(),
    }
    sim = FridgeBusSimulator(load_map("dixell-xr"), units, clock=clock, seed=7)
    port = await sim.start_pty()
    db_path = tmp_path / "station.db"
    migrate.upgrade(db_path)
    db = Database(db_path)
    await db.start()
    harness = ColdRoom(sim, clock, db, db_path, port)
    config = cold_config(db_path, port)
    await db.write(lambda s: sync_compartments(s, config.compartments))
    await db.write(stock)
    yield harness
    for service in harness.services:
        await service.stop()
    await db.stop()
    await sim.stop()


from tests.purchase.saledb import sdb, template  # noqa: E402, F401  (hardware-free: tests/coldchain/test_transition_rules.py)
