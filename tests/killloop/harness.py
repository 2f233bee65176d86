"""A physical station in its own process (`station simulate --record`) and a daemon that tests kill.

The simulators keep the physical truth across daemon restarts: doors that opened stay opened (the
simulated shopper takes the goods and shuts the door), the terminal keeps its ledger. The record
file says what physically happened; the checks compare it with what the station believes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from station.compartments.contents import load
from station.compartments.owner import sync_configured
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.db.models import Product
from station.db.types import utcnow
from tests.conftest import PYTHON, REPO, free_port

PRODUCTS = {  # gtin: (name, price, deposit): totals ending in 99 are declined by the simulated terminal
    "4001234567890": ("Bauernbrot", 420, 0),
    "4006381333931": ("Hofmilch", 149, 15),
    "4009876543210": ("Eier", 399, 0),
    "4012345678901": ("Honig", 690, 0),
}
COMPARTMENTS = {1: "4001234567890", 2: "4006381333931", 3: "4009876543210", 4: "4012345678901",
                5: "4001234567890", 6: "4006381333931", 7: "4012345678901", 8: "4001234567890"}
PRICE = {c: PRODUCTS[g][1] + PRODUCTS[g][2] for c, g in COMPARTMENTS.items()}


def config_text(db: Path, http: int, locks: int, terminal: int, *, item_sensors: bool = False,
                close_after_s: float = 0.4, busy_timeout_ms: int = 5000) -> str:  # fmt: skip
    sensors = "item_sensors = true\n" if item_sensors else ""
    comps = "".join(f'[[compartments]]\nid = {c}\nbus = "wall"\nboard = 0\nlock = {c}\n' for c in COMPARTMENTS)
    return f"""
[station]
id = "kill-01"

[simulation]
seed = 5
door_open_delay_s = 0.05
door_close_after_s = {close_after_s}

[database]
path = "{db}"
busy_timeout_ms = {busy_timeout_ms}

[http]
host = "127.0.0.1"
port = {http}

[lock_buses.wall]
port = "socket://127.0.0.1:{locks}"
protocol = "cu16"
timeout_ms = 150
gap_ms = 2
poll_hz = 10
[[lock_buses.wall.boards]]
address = 0
{sensors}
[doors]
open_detect_s = 0.6

[payment]
port = "tcp://127.0.0.1:{terminal}"
idle_poll_s = 0.5
{comps}"""


def seed(session: Any, config: Any) -> None:
    for gtin, (name, price, deposit) in PRODUCTS.items():
        session.add(Product(gtin=gtin, name=name, price_cents=price, deposit_cents=deposit, vat_rate_bp=700,
                            temperature_class="ambient", updated_at=utcnow()))  # fmt: skip
    session.flush()
    sync_configured(session, config.compartments)
    for comp, gtin in COMPARTMENTS.items():
        load(session, comp, gtin, 1, actor="volunteer:1", best_before=date.today() + timedelta(days=30))


@dataclass
class Station:
    """Paths, ports and processes of one physical station and its daemon."""

    root: Path
    item_sensors: bool = False
    close_after_s: float = 0.4
    busy_timeout_ms: int = 5000
    db_dir: Path | None = None
    http_port: int = field(default_factory=free_port)
    daemon: subprocess.Popen | None = None
    simulator: subprocess.Popen | None = None
    restocked_at: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.db_path = (self.db_dir or self.root) / "station.db"
        self.record_path = self.root / "physical.jsonl"
        self.config_path = self.root / "station.toml"
        self.config_path.write_text(config_text(self.db_path, self.http_port, free_port(), free_port(),
                                                item_sensors=self.item_sensors, close_after_s=self.close_after_s,
                                                busy_timeout_ms=self.busy_timeout_ms))  # fmt: skip
        self.config = parse_config(self.config_path.read_text())
        migrate.upgrade(self.db_path)
        db = Database(self.db_path)
        db.open_sync()
        try:
            db.run_sync(lambda s: seed(s, self.config))
        finally:
            db.close_sync()
        now = time.time()
        self.restocked_at = {c: now for c in COMPARTMENTS}
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.http_port}", timeout=5)

    # -- processes ----------------------------------------------------------------------------------
    def start_simulator(self) -> None:
        self.simulator = subprocess.Popen(
            [PYTHON, "-m", "station.cli", "simulate", "--config", str(self.config_path), "--record",
             str(self.record_path)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert self.simulator.stdout is not None
        line = self.simulator.stdout.readline()
        assert "ready" in line, line

    def start_daemon(self, crash_at: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "STATION_CRASH_AT"}
        if crash_at:
            env["STATION_CRASH_AT"] = crash_at
        log = (self.root / "daemon.log").open("ab")
        self.daemon = subprocess.Popen(
            [PYTHON, "-m", "station.cli", "run", "--config", str(self.config_path), "--log-format", "text"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, within: float = 60.0) -> dict[str, Any]:
        """Until the HTTP API answers, every interrupted purchase is settled and the terminal is ready."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.daemon is not None
            if self.daemon.poll() is not None:
                raise AssertionError(f"daemon exited with {self.daemon.returncode}:\n{self.log()[-3000:]}")
            try:
                health = self.http.get("/api/health").json()
                purchases = health["components"]["purchases"]["detail"]
                if purchases["recovering"] == [] and not purchases["settling"] and \
                        health["components"]["terminal"]["detail"]["ready"]:  # fmt: skip
                    return health
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready in {within} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGKILL)
            self.daemon.wait(10)

    def stop(self) -> None:
        self.kill()
        if self.simulator is not None and self.simulator.poll() is None:
            self.simulator.send_signal(signal.SIGTERM)
            self.simulator.wait(10)
        self.http.close()

    def log(self) -> str:
        path = self.root / "daemon.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- the physical record ------------------------------------------------------------------------
    def record(self) -> list[dict[str, Any]]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text().splitlines() if line.strip()]

    def wait_record(self, predicate: Any, within: float = 10.0, after: int = 0) -> dict[str, Any]:
        """The first record line (from index `after`) matching predicate; polls the file."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            lines = self.record()
            for line in lines[after:]:
                if predicate(line):
                    return line
            time.sleep(0.005)
        raise AssertionError(f"no such physical event within {within} s")

    # -- the station's view (read-only sqlite3 on the daemon's database) -------------------------------
    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as con:
            return con.execute(sql, params).fetchall()

    def restock_empty(self) -> list[int]:
        """A volunteer refills what is empty or checked while the daemon is down (through the owner)."""
        db = Database(self.db_path)
        db.open_sync()
        refilled: list[int] = []

        def refill(session: Any) -> None:
            from station.compartments import owner

            for comp, gtin in COMPARTMENTS.items():
                status = owner.status(session, comp)
                if status in ("empty", "needs_check"):
                    from station.compartments.contents import remove_all

                    remove_all(session, comp, actor="volunteer:1", reason="checked")
                    load(session, comp, gtin, 1, actor="volunteer:1", best_before=date.today() + timedelta(days=30))
                    owner.contents_recorded(session, comp, "volunteer:1")
                    refilled.append(comp)

        try:
            db.run_sync(refill)
        finally:
            db.close_sync()
        now = time.time()
        for comp in refilled:
            self.restocked_at[comp] = now
        return refilled
