"""The daemon as a real process: health API, systemd notify, clean SIGTERM, demo station."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, minimal_config
from tests.helpers.daemon import DaemonProcess, get_json
from tests.helpers.demo import write_demo_config


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    yield sock, path
    sock.close()


def _messages(sock: socket.socket, until: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if any(until in m for m in seen):
            break
    return seen


def test_daemon_serves_health_notifies_systemd_and_stops_on_sigterm(tmp_path: Path, notify_socket) -> None:
    sock, sock_path = notify_socket
    port = free_port()
    config = tmp_path / "station.toml"
    config.write_text(minimal_config(tmp_path / "var" / "station.db", port))
    env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1500000"}  # watchdog every 0.5 s
    daemon = DaemonProcess(["run", "--config", str(config), "--log-format", "json"], env, tmp_path / "log")
    try:
        assert any("READY=1" in m for m in _messages(sock, "READY=1", 20))
        health = daemon.wait_http(f"http://127.0.0.1:{port}/api/health")
        assert health["status"] == "up" and health["simulated"] is False and health["notice"] is None
        assert health["components"]["database"]["detail"]["pragmas"] == {
            "journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
        }
        assert health["outbox"] == {"pending": 0, "oldest_pending_at": None}
        watchdog = [m for m in _messages(sock, "\x00never", 1.6) if m == "WATCHDOG=1"]
        assert len(watchdog) >= 2, "watchdog must be fed while healthy"
        openapi = get_json(f"http://127.0.0.1:{port}/api/openapi.json")
        assert "/api/health" in openapi["paths"]

        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 5
        assert any("STOPPING=1" in m for m in _messages(sock, "STOPPING=1", 1))
        log = daemon.log()
        assert '"msg": "station test-01 stopped"' in log
    finally:
        daemon.stop()


class _Poller:
    """A component whose loop can be made to stall."""

    name = "poller"

    def __init__(self) -> None:
        self.last = time.monotonic()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self):
        from station.components import ComponentHealth, Status

        return ComponentHealth(Status.UP)

    def progress(self) -> float:
        return self.last


async def test_watchdog_is_fed_only_while_loop_database_and_pollers_progress(tmp_path: Path, notify_socket) -> None:
    from station.config import parse_config
    from station.daemon import Station
    from station.systemd import Notifier
    from station.watchdog import STALL_LIMIT_S

    sock, sock_path = notify_socket
    config = parse_config(minimal_config(tmp_path / "station.db", free_port()))
    station = Station(config, notifier=Notifier({"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "30000000"}))
    poller = _Poller()
    station.add(poller)
    await station.start()
    try:
        assert any("READY=1" in m for m in _messages(sock, "READY=1", 2))
        assert await station.health_loop.check_once() == []
        assert _messages(sock, "WATCHDOG=1", 1) == ["WATCHDOG=1"]

        poller.last = time.monotonic() - STALL_LIMIT_S - 1
        (problem,) = await station.health_loop.check_once()
        assert problem.startswith("poller: no progress")
        assert _messages(sock, "WATCHDOG=1", 0.5) == []

        poller.last = time.monotonic()
        await station.db.stop()  # the database thread is gone
        (problem,) = await station.health_loop.check_once()
        assert problem.startswith("database:")
        assert _messages(sock, "WATCHDOG=1", 0.5) == []
    finally:
        await station.stop()


def test_demo_station_answers_health_says_simulated_and_syncs(tmp_path: Path) -> None:
    """The one-command demo: simulated devices, its own broker and platform, a demo operator key."""
    config, ports = write_demo_config(tmp_path)
    port, mqtt_port = ports["http"], ports["mqtt"]
    for extra in (REPO / "examples").glob("*.json"):
        shutil.copy(extra, tmp_path)
    daemon = DaemonProcess(["demo", "--config", str(config), "--log-format", "text"], log_path=tmp_path / "log")
    try:
        health = daemon.wait_http(f"http://127.0.0.1:{port}/api/health", timeout=30)
        assert health["simulated"] is True
        assert health["notice"].startswith("SIMULATION")
        assert all(c["simulated"] for c in health["components"].values())
        deadline = time.monotonic() + 30
        while not (health["components"]["sync"]["status"] == "up" and health["outbox"]["pending"] == 0):
            assert time.monotonic() < deadline, health  # the demo platform acknowledges what the station sends
            time.sleep(0.2)
            health = get_json(f"http://127.0.0.1:{port}/api/health")
        send = subprocess.run(
            [
                sys.executable, "-m", "station.cli", "ops", "send", "--broker", f"127.0.0.1:{mqtt_port}",
                "--key", str(tmp_path / "demo-operator.key"), "--issuer", "demo-ops", "--station", "demo-01",
                "open-compartment", "--compartment", "2", "--reference", "DEMO-1",
            ],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert send.returncode == 0, send.stdout + send.stderr
        result = json.loads(send.stdout)
        assert (result["status"], result["result"]["outcome"]["outcome"]) == ("done", "opened")
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=5) == 0
        assert "SIMULATION: this station runs on simulated hardware" in daemon.log()
    finally:
        daemon.stop()


def test_demo_refuses_a_production_config(tmp_path: Path) -> None:
    config = tmp_path / "prod.toml"
    config.write_text(minimal_config(tmp_path / "x.db", free_port()))
    daemon = DaemonProcess(["demo", "--config", str(config)], log_path=tmp_path / "log")
    assert daemon.proc.wait(timeout=20) == 2
    assert "refuses to run on a production config" in daemon.log()
    daemon.stop()


def test_a_notify_socket_nobody_reads_never_blocks_the_daemon(notify_socket) -> None:
    from station.systemd import Notifier

    _sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": str(path)})
    started = time.monotonic()
    sent = [notifier.watchdog() for _ in range(50)]  # far more than the queue holds (10 on Linux)
    assert time.monotonic() - started < 1.0  # a blocking send would wait here for ever
    assert sent[0] is True and False in sent  # the first ones went; the rest were dropped, not waited for
