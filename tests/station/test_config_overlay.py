"""Config overlays: merged over the file at start, checked against the file when they arrive,
never allowed to touch identity, reachability or trust; the daemon applies one after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.console import BrokerAccess, send_command
from central.consumer import Platform
from simulators.mqtt.localbroker import Mosquitto
from station.assembly import check_overlay, config_hash
from station.config import ConfigError, parse_config
from station.config.overlay import apply_overlay, effective_config, merge
from station.db import migrate
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key
from tests.conftest import REPO, free_port, minimal_config
from tests.station.daemon_helpers import mqtt_section

ZONES = """
[doors]
open_detect_s = 3.0

[zones.chiller]
temperature_class = "chilled"
alarm_delay_s = 900
"""


def file_config(db_path: Path, extra: str = ""):
    return parse_config(minimal_config(db_path, 0, ZONES + extra))


def store_overlay(db_path: Path, overlay: dict[str, Any], sha256: str = "abc", version: str = "v1") -> None:
    with sqlite3.connect(db_path) as con:
        con.executemany(
            "INSERT OR REPLACE INTO station_meta (key, value) VALUES (?, ?)",
            [
                ("config_overlay", json.dumps(overlay)),
                ("config_overlay_sha256", sha256),
                ("config_overlay_version", version),
            ],
        )


def test_merge_tables_key_by_key_and_replace_everything_else():
    base = {"zones": {"a": {"x": 1, "y": 2}}, "list": [1, 2], "v": 1}
    assert merge(base, {"zones": {"a": {"y": 3}}, "list": [9], "v": 2}) == {
        "zones": {"a": {"x": 1, "y": 3}},
        "list": [9],
        "v": 2,
    }
    assert base == {"zones": {"a": {"x": 1, "y": 2}}, "list": [1, 2], "v": 1}  # untouched


def test_an_overlay_changes_only_what_it_names(db_path):
    config = file_config(db_path)
    merged = apply_overlay(config, {"zones": {"chiller": {"alarm_delay_s": 600}}, "doors": {"open_detect_s": 5}})
    assert merged.zones["chiller"].alarm_delay_s == 600
    assert merged.zones["chiller"].temperature_class == "chilled"
    assert merged.doors.open_detect_s == 5
    assert merged.station == config.station and merged.database == config.database
    assert config_hash(merged) != config_hash(config)


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ({"station": {"id": "other-01"}}, "station: may not be changed remotely (the station's identity)"),
        ({"database": {"path": "/tmp/x.db"}}, "database: may not be changed remotely"),
        ({"http": {"host": "0.0.0.0"}}, "http: may not be changed remotely"),
        ({"mqtt": {"operator_keys": {"evil": "AAAA"}}}, "mqtt.operator_keys: may not be changed remotely"),
        ({"mqtt": {"brokers": [{"host": "evil.example"}]}}, "mqtt.brokers: may not be changed remotely"),
        ({"mqtt": None}, "mqtt: may not be replaced as a whole remotely (it holds mqtt.brokers"),
        ({"zones": {"chiller": {"alarm_delay_s": -1}}}, "zones.chiller.alarm_delay_s: Input should be greater than"),
        ({"zones": {"chiller": {"colour": "red"}}}, "zones.chiller.colour: unknown key"),
        ({"compartments": [{"id": 1, "bus": "nowhere", "board": 0, "lock": 1}]}, "no lock bus named 'nowhere'"),
    ],
)
def test_overlays_that_do_not_fit_are_refused_with_the_reason(db_path, overlay, expected):
    config = file_config(db_path)
    with pytest.raises(ConfigError) as caught:
        apply_overlay(config, overlay)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
    with pytest.raises(ValueError, match=r"may not be (changed|replaced)|Input should|unknown key|no lock bus"):
        check_overlay(config, overlay)  # what the command handler answers


def test_start_up_applies_a_stored_overlay_or_runs_on_the_file(tmp_path, db_path):
    config = file_config(db_path)
    assert effective_config(config)[1].state == "none"
    assert effective_config(file_config(tmp_path / "not-yet.db"))[1].state == "none"

    store_overlay(db_path, {"zones": {"chiller": {"alarm_delay_s": 300}}}, "s1", "v1")
    effective, state = effective_config(config)
    assert (state.state, state.sha256, state.version) == ("applied", "s1", "v1")
    assert effective.zones["chiller"].alarm_delay_s == 300

    store_overlay(db_path, {"zones": {"freezer": {"alarm_delay_s": 300}}}, "s2", "v2")  # the file has no freezer
    effective, state = effective_config(config)
    assert (state.state, state.sha256) == ("rejected", "s2")
    assert "zones.freezer.temperature_class: Field required" in state.detail
    assert effective == config

    with sqlite3.connect(db_path) as con:  # a damaged row must not stop the station
        con.execute("UPDATE station_meta SET value = '{not json' WHERE key = 'config_overlay'")
    effective, state = effective_config(config)
    assert state.state == "rejected" and state.detail.startswith("the stored overlay is not JSON")
    assert effective == config


async def test_daemon_checks_an_overlay_and_runs_with_it_after_a_restart(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    key = generate_key()
    db_path, http_port = tmp_path / "station.db", free_port()
    config_path = tmp_path / "station.toml"
    config_path.write_text(minimal_config(db_path, http_port) + ZONES + mqtt_section(broker.port, key))
    migrate.upgrade(db_path)
    platform = Platform([Endpoint("127.0.0.1", broker.port)], tmp_path / "platform.db")
    await platform.start()
    access = BrokerAccess([Endpoint("127.0.0.1", broker.port)], ConnectOptions(client_id="ops-test"))

    async def send(seq: int, overlay: dict[str, Any]) -> dict[str, Any]:
        (result,) = await send_command(
            access,
            key,
            issuer="county-ops",
            issuer_seq=seq,
            station_id="test-01",
            action="apply_config_overlay",
            params={"overlay": overlay, "version": f"v{seq}"},
            wait_s=20,
        )
        return result

    async def birth_hash(not_equal: str | None = None) -> str:
        def current() -> str | None:
            state = platform.store.presence().get("test-01", {})
            return state.get("config_hash") if state.get("state") == "online" else None

        assert await platform.wait_for(lambda: current() not in (None, not_equal), 30)
        return current()

    try:
        async with run_daemon(config_path):
            first_hash = await birth_hash()
            refused = await send(1, {"mqtt": {"operator_keys": {"evil": "AAAA"}}})
            assert (refused["status"], refused["reason"]) == ("failed", "invalid_overlay")
            assert "mqtt.operator_keys: may not be changed remotely" in refused["detail"]
            accepted = await send(2, {"zones": {"chiller": {"alarm_delay_s": 300}}})
            assert accepted["status"] == "done", accepted
            assert accepted["result"]["effective"] == "next_start"
            health = await get_health(http_port)
            assert health["config_overlay"]["state"] == "none"  # not before the restart

        async with run_daemon(config_path):
            health = await get_health(http_port)
            assert health["config_overlay"] == {
                "state": "applied",
                "sha256": accepted["result"]["sha256"],
                "version": "v2",
                "detail": None,
            }
            second_hash = await birth_hash(not_equal=first_hash)
        expected = apply_overlay(parse_config(config_path.read_text()), {"zones": {"chiller": {"alarm_delay_s": 300}}})
        assert second_hash == config_hash(expected)
    finally:
        await platform.stop()
        broker.stop()


@contextlib.asynccontextmanager
async def run_daemon(config_path: Path) -> AsyncIterator[None]:
    """The real daemon as a subprocess; SIGTERM on leaving, which must end it with 0."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "station.cli", "run", "--config", str(config_path), cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def get_health(port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        for _ in range(100):
            try:
                return (await http.get("/api/health")).json()
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError("the daemon's API never answered")
