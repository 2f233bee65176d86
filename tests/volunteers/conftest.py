"""A whole station in this process (the daemon's components, its HTTP server on a free port), a manual
clock, a simulated lock wall (TCP) and, where asked, a simulated NFC reader field (nfcpy's UDP driver).

Tests talk to it only through HTTP, like the touchscreen does; the database is read to check what
the API said. The first operator is made with `station users add` (the CLI's own code, in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from simulators.locks import LockBusSimulator
from simulators.nfc import NfcTagSimulator, Ntag213
from station import catalogue
from station.assembly import build_station
from station.cli import main as cli_main
from station.clock import ManualClock
from station.compartments.owner import sync_configured
from station.config import Config, parse_config
from station.daemon import Station
from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, Compartment, OutboxEvent
from tests.conftest import minimal_config
from tests.sync.schema_check import errors, rule_for

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 12, 22, 9, 0, tzinfo=BERLIN)
OPERATOR_UID, OPERATOR_PIN = "04C0FFEE000001", "570931"

PRODUCTS = [  # the platform's catalogue
    catalogue.ProductData("4006381333931", "Hofmilch 1 l", 149, deposit_cents=15, temperature_class="chilled"),
    catalogue.ProductData("4001234567890", "Bauernbrot 750 g", 420),
    catalogue.ProductData("4009876543210", "Freilandeier 10 Stück", 389, temperature_class="chilled"),
    catalogue.ProductData("4012345678901", "Blütenhonig 500 g", 690, past_best_before_price_cents=345,
                          past_best_before_days=5),
]


def station_text(db_path: Path, lock_url: str | None, *, nfc: str | None = None, extra: str = "",
                 zoned: dict[int, str] | None = None) -> str:
    text = minimal_config(db_path)
    if lock_url is not None:
        text += f"""
[lock_buses.wall]
port = "{lock_url}"
protocol = "cu16"
timeout_ms = 150
gap_ms = 2
poll_hz = 10
[[lock_buses.wall.boards]]
address = 0

[doors]
open_detect_s = 1.0
"""
        for c in range(1, 7):
            text += f'[[compartments]]\nid = {c}\nbus = "wall"\nboard = 0\nlock = {c}\n'
            text += f'zone = "{zoned[c]}"\n' if zoned and c in zoned else ""
    if nfc is not None:
        text += f'\n[nfc]\ndevice = "{nfc}"\ntargets = ["106A"]\npoll_s = 0.05\ndebounce_s = 0.3\n'
    return text + extra


def prepare(db_path: Path, config: Config) -> None:
    """Schema, compartments and the catalogue: what exists before anyone logs in."""
    migrate.upgrade(db_path)
    db = Database(db_path)
    db.open_sync()
    try:
        db.run_sync(lambda s: (sync_configured(s, config.compartments),
                               catalogue.set_catalogue(s, PRODUCTS, replace=False, actor="operator:platform")))
    finally:
        db.close_sync()


def cli(args: list[str], stdin: str = "") -> int:
    """`station ...` in this process, with `stdin` as standard input."""
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return cli_main(args)
    finally:
        sys.stdin = saved


@dataclass
class Kiosk:
    """The station, its simulators and an HTTP client, as the touchscreen sees them."""

    station: Station
    clock: ManualClock
    http: httpx.AsyncClient
    config_path: Path
    db_path: Path
    locks: LockBusSimulator | None = None
    field: NfcTagSimulator | None = None

    # -- the NFC reader ------------------------------------------------------------------------------
    async def tap(self, uid: str) -> None:
        """Hold a badge to the reader until the station has seen it, then take it away."""
        assert self.field is not None
        self.field.present(Ntag213.create(uid))
        try:
            await wait_for(self._tap_waiting, what=f"the tap of {uid}")
        finally:
            self.field.remove()

    async def _tap_waiting(self) -> bool:
        return bool((await self.http.get("/api/staff/badge")).json()["tap_waiting"])

    # -- HTTP helpers ----------------------------------------------------------------------------------
    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"X-Staff-Session": token}

    async def login_pin(self, account_id: int, pin: str, keypad: str = "kiosk") -> httpx.Response:
        return await self.http.post("/api/staff/login/pin", json={"account_id": account_id, "pin": pin},
                                    headers={"X-Keypad": keypad})

    async def operator(self) -> str:
        """Log the first operator in with badge and PIN; returns the token."""
        await self.tap(OPERATOR_UID)
        reply = await self.http.post("/api/staff/login/badge", json={"pin": OPERATOR_PIN})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["token"])

    # -- looking at the database -------------------------------------------------------------------------
    def read(self, fn: Callable[[Any], Any]) -> Any:
        db = Database(self.db_path)
        db.open_sync()
        try:
            return db.run_sync(fn, write=False)
        finally:
            db.close_sync()

    def status(self, compartment: int) -> str:
        return str(self.read(lambda s: s.get_one(Compartment, compartment).status))

    def events(self, type_: str) -> list[dict[str, Any]]:
        return list(self.read(lambda s: list(s.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.type == type_).order_by(OutboxEvent.id)))))

    def audit(self, action: str) -> list[AuditEntry]:
        return list(self.read(lambda s: list(s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))))

    def contract_problems(self) -> tuple[list[str], set[str]]:
        return contract_problems(self.db_path)

    def alarms(self, kind: str) -> list[tuple[str, str]]:
        return list(self.read(lambda s: [(a.subject, a.state) for a in s.scalars(
            select(Alarm).where(Alarm.kind == kind).order_by(Alarm.id))]))


def contract_problems(db_path: Path) -> tuple[list[str], set[str]]:
    """Every outbox event against its payload schema and priority in the registry; and the types seen."""
    priorities = {0: "money", 1: "alarm", 2: "stock", 3: "telemetry"}
    db = Database(db_path)
    db.open_sync()
    try:
        rows = db.run_sync(lambda s: [(e.type, e.schema_version, e.priority, e.payload)
                                      for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))], write=False)
    finally:
        db.close_sync()
    problems, types = [], set()
    for event_type, version, priority, payload in rows:
        types.add(event_type)
        rule = rule_for(event_type, version)
        if rule is None:
            problems.append(f"{event_type} v{version}: no payload schema")
            continue
        if priorities[priority] != rule.priority:
            problems.append(f"{event_type}: priority {priorities[priority]}, the registry says {rule.priority}")
        problems += [f"{event_type}: {e}" for e in errors(payload, rule.payload_schema)]
    return problems, types


async def wait_for(check: Callable[[], Any], within: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(config_path: Path, clock: ManualClock, **kw: Any) -> AsyncIterator[Kiosk]:
    """Start the station from its config file; stop it at the end."""
    text = config_path.read_text()
    config = parse_config(text, str(config_path), base_dir=config_path.parent)
    station = build_station(config, clock=clock)
    await station.start()
    base = f"http://127.0.0.1:{station.http.bound_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=15) as http:
            yield Kiosk(station, clock, http, config_path, config.database.path, **kw)
    finally:
        await station.stop()


@dataclass
class Site:
    """Files and simulators of one station, to start (and restart) it."""

    tmp: Path
    clock: ManualClock
    locks: LockBusSimulator | None
    field: NfcTagSimulator | None
    config_path: Path
    db_path: Path

    def run(self) -> contextlib.AbstractAsyncContextManager[Kiosk]:
        return running(self.config_path, self.clock, locks=self.locks, field=self.field)


@contextlib.asynccontextmanager
async def make_site(tmp: Path, *, walls: bool = True, nfc: bool = True, extra: str = "",
                    operator: bool = True, zoned: dict[int, str] | None = None) -> AsyncIterator[Site]:
    locks = LockBusSimulator("cu16", [0], open_delay_s=0.05, close_after_s=0.3) if walls else None
    lock_url = await locks.start_tcp() if locks is not None else None
    field = NfcTagSimulator(seed=1) if nfc else None
    if field is not None:
        field.start("127.0.0.1", 0)
    db_path = tmp / "station.db"
    config_path = tmp / "station.toml"
    device = field.device_path if field else None
    config_path.write_text(station_text(db_path, lock_url, nfc=device, extra=extra, zoned=zoned))
    prepare(db_path, parse_config(config_path.read_text()))
    if operator:
        args = ["users", "add", "--config", str(config_path), "--role", "operator", "--name", "Olga Betreiberin",
                "--badge-uid", OPERATOR_UID, "--pin-stdin"]
        assert cli(args, OPERATOR_PIN + "\n") == 0
    try:
        yield Site(tmp, ManualClock(START), locks, field, config_path, db_path)
    finally:
        if field is not None:
            field.close()
        if locks is not None:
            await locks.stop()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with make_site(tmp_path) as ready:
        yield ready
