"""A station with a CU16 wall (pty), a ZVT terminal simulator (TCP) and the purchase service, in-process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from payments.zvt import ZvtClient, ZvtSettings, ZvtTimers
from simulators.locks import LockBusSimulator
from simulators.zvt import SimConfig, ZvtSimulator
from station.cardterminal import CardTerminal
from station.compartments.contents import load as load_compartment
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, Compartment, OutboxEvent, Product, Sale
from station.db.types import utcnow
from station.lockwall import LockWall
from station.purchase import FINAL, PurchaseService
from station.purchase.age import AgeGate
from station.purchase.apprequest import RequestSigner
from tests.conftest import minimal_config

TIMERS = ZvtTimers(t1_inter_byte=0.2, t2_frame_ack=0.5, t3_ack=1.0, t4_dialogue=10.0, decide_s=0.3, connect_s=1.0)
SIM = SimConfig(seed=7, step_s=0.005, card_wait_s=0.3, resend_s=0.1, ack_timeout_s=1.0)
PRODUCTS = {  # gtin: (name, price, deposit)
    "4006381333931": ("Hofmilch 1 l", 149, 15),
    "4001234567890": ("Bauernbrot 750 g", 420, 0),
    "4009876543210": ("Eier 10 Stück", 399, 0),  # .99 cents: the simulator declines this total
}
AGE_RESTRICTED = {  # gtin: (name, price, deposit, min_age): the demo's local beer and fruit brandy
    "4031234000016": ("Dorfbier 0,5 l", 189, 8, 16),
    "4031234000023": ("Obstbrand 0,35 l", 1890, 0, 18),
}
LOADS = {1: ("4006381333931", 2), 2: ("4001234567890", 1), 17: ("4009876543210", 1), 18: ("4001234567890", 1),
         3: ("4031234000016", 1), 4: ("4031234000023", 1)}
STATION_ID = "test-station"
SIGNING_SEED = bytes(range(32))


def purchase_config_text(db_path: Path, lock_port: str, terminal_url: str) -> str:
    comps = "".join(
        f'[[compartments]]\nid = {c}\nbus = "wall"\nboard = {c // 17}\nlock = {1 + (c - 1) % 16}\n' for c in LOADS
    )
    return (
        minimal_config(db_path)
        + f"""
[lock_buses.wall]
port = "{lock_port}"
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
{comps}"""
    )


def seed_catalogue(session) -> None:
    for gtin, (name, price, deposit) in PRODUCTS.items():
        session.add(
            Product(
                gtin=gtin,
                name=name,
                price_cents=price,
                deposit_cents=deposit,
                vat_rate_bp=700,
                temperature_class="ambient",
                updated_at=utcnow(),
            )
        )
    for gtin, (name, price, deposit, min_age) in AGE_RESTRICTED.items():
        session.add(Product(gtin=gtin, name=name, price_cents=price, deposit_cents=deposit, vat_rate_bp=1900,
                            temperature_class="ambient", min_age=min_age, updated_at=utcnow()))
    session.flush()
    for comp, (gtin, qty) in LOADS.items():
        load_compartment(session, comp, gtin, qty, best_before=date.today() + timedelta(days=30), actor="volunteer:1")


class FakeSecret:
    """The station key's customer-card digest, with a fixed key (tests)."""

    def customer_card_digest(self, uid_hex: str) -> str:
        import hashlib
        import hmac

        return hmac.new(b"k" * 32, b"customer-card\x00" + bytes.fromhex(uid_hex), hashlib.sha256).hexdigest()


class Shop:
    def __init__(self, db: Database, locks: LockBusSimulator, terminal_sim: ZvtSimulator, service: PurchaseService):
        self.db, self.locks, self.terminal_sim, self.service = db, locks, terminal_sim, service

    async def finished(self, sale_id: str, within: float = 15.0) -> Sale:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            sale = await self.db.read(lambda s: s.get_one(Sale, sale_id))
            if sale.state in FINAL:
                return sale
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"purchase stuck in {sale.state}")
            await asyncio.sleep(0.02)

    def compartment(self, comp: int) -> str:
        return self.db.run_sync(lambda s: s.get_one(Compartment, comp).status)

    def event_types(self) -> list[str]:
        return self.db.run_sync(lambda s: list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id))))

    def alarms(self) -> list[str]:
        return self.db.run_sync(lambda s: [a.kind for a in s.scalars(select(Alarm).where(Alarm.state == "raised"))])


@contextlib.asynccontextmanager
async def open_shop(
    tmp: Path,
    locks: LockBusSimulator,
    terminal_sim: ZvtSimulator,
    *,
    serial_terminal: bool = False,
    timers: ZvtTimers = TIMERS,
) -> AsyncIterator[Shop]:
    """The purchase service with its lock wall and terminal on the given simulators (pty / TCP)."""
    lock_port = await locks.start_pty()
    url = await (terminal_sim.start_pty() if serial_terminal else terminal_sim.start_tcp())
    db_path = tmp / "station.db"
    migrate.upgrade(db_path)
    db = Database(db_path)
    await db.start()
    config = parse_config(purchase_config_text(db_path, lock_port, url))
    wall = LockWall(config, db)
    client = ZvtClient(ZvtSettings(url=url, timers=timers, max_status_infos=40, baudrate=115200))
    terminal = CardTerminal(config.payment, db, client=client)
    service = PurchaseService(db, terminal, wall, signer=RequestSigner(SIGNING_SEED), station_id=STATION_ID,
                              age=AgeGate(FakeSecret()))
    service.app.uplink = lambda: True
    for component in (wall, terminal, service):
        await component.start()
    await db.write(seed_catalogue)
    for bus in wall.buses.values():
        await bus.wait_probed(5)
    await asyncio.wait_for(service.recovery.finished.wait(), 5)
    try:
        yield Shop(db, locks, terminal_sim, service)
    finally:
        for component in (service, terminal, wall):
            await component.stop()
        await db.stop()
        await terminal_sim.stop()
        await locks.stop()


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.05, close_after_s=0.3)
    async with open_shop(tmp_path, locks, ZvtSimulator(SIM)) as ready:
        yield ready


async def wait_until_final(http: httpx.AsyncClient, sale_id: str, timeout_s: float = 60.0) -> str | None:
    """The sale's state once it is final (a restarted daemon may not answer at first); None after the timeout."""
    started = time.monotonic()
    state = None
    while time.monotonic() - started < timeout_s:
        try:
            state = (await http.get(f"/api/purchases/{sale_id}")).json()["state"]
        except httpx.HTTPError:
            state = None
        if state in FINAL:
            return str(state)
        await asyncio.sleep(0.1)
    return state


from tests.purchase.saledb import sdb, template  # noqa: E402, F401  (the hardware-free fixtures of the rule tests)
