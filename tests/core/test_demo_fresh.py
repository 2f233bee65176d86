"""`station demo --fresh`: the README's purchase of compartment 2 works again, and nothing else is deleted."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from station.cli.demo import ResetRefused, reset_demo_state
from station.config import load_config
from tests.conftest import minimal_config
from tests.helpers.daemon import DaemonProcess, get_json
from tests.helpers.demo import write_demo_config


def _demo_config(tmp_path: Path) -> tuple[Path, int]:
    """The shipped demo config with every port free and its state in tmp_path/var (the config beside it)."""
    path, ports = write_demo_config(tmp_path, "var/demo-station.db")
    return path, ports["http"]


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _buy_compartment_2(tmp_path: Path, config: Path, http: int, *args: str) -> tuple[int, dict[str, Any]]:
    """One demo run: the README's purchase of compartment 2, followed to its end; then SIGTERM."""
    base = f"http://127.0.0.1:{http}/api"
    daemon = DaemonProcess(["demo", "--config", str(config), "--log-format", "text", *args], log_path=tmp_path / "log")
    try:
        daemon.wait_http(f"{base}/health", timeout=60)
        deadline = time.monotonic() + 30
        while True:  # the terminal registers after the HTTP server is up: "busy" until then
            status, answer = _post(f"{base}/purchases", {"compartments": [2]})
            if answer.get("detail", {}).get("error") != "busy" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        while status == 202 and answer["state"] not in ("done", "failed", "cancelled"):
            assert time.monotonic() < deadline, answer
            time.sleep(0.2)
            answer = get_json(f"{base}/purchases/{answer['sale_id']}")
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=10) == 0, daemon.log()
        return status, answer
    finally:
        daemon.stop()


def test_fresh_makes_the_readme_purchase_work_again(tmp_path: Path) -> None:
    config, http = _demo_config(tmp_path)
    var = tmp_path / "var"
    status, sale = _buy_compartment_2(tmp_path, config, http)
    assert (status, sale["state"]) == (202, "done"), sale
    assert "Fach 2 ist offen – bitte Ware entnehmen" in [m["text"] for m in sale["messages"]]

    made = {p.name for p in var.iterdir()}
    assert {"demo-station.db", "demo-platform.db", "demo-broker", "demo-operator.key"} <= made
    (var / "notes.txt").write_text("mine")  # something of the user's in the demo's folder

    status, refused = _buy_compartment_2(tmp_path, config, http)
    assert (status, refused["error"]) == (409, "not_available"), refused  # the state was kept: sold

    status, sale = _buy_compartment_2(tmp_path, config, http, "--fresh")
    assert (status, sale["state"]) == (202, "done"), sale
    log = (tmp_path / "log").read_text()
    assert "fresh demo: removed demo-station.db" in log
    assert (var / "notes.txt").read_text() == "mine" and config.exists()


def test_fresh_deletes_only_the_demo_state(tmp_path: Path) -> None:
    config, _http = _demo_config(tmp_path)
    var = tmp_path / "var"
    (var / "demo-broker").mkdir(parents=True)
    state = ["demo-station.db", "demo-station.db-wal", "demo-platform.db", "demo-platform.db-shm"]
    for name in [*state, "demo-broker/mosquitto.db"]:
        (var / name).write_text("x")
    keep = ["demo-operator.key", "station.db", "demo-station.db.bak", "notes.txt"]
    for name in keep:
        (var / name).write_text("keep")
    removed = reset_demo_state(load_config(config))
    assert sorted(p.name for p in removed) == sorted([*state, "demo-broker"])
    assert sorted(p.name for p in var.iterdir()) == sorted(keep)


def test_fresh_refuses_a_symlink_out_of_the_demo_folder(tmp_path: Path) -> None:
    config, _http = _demo_config(tmp_path)
    var, elsewhere = tmp_path / "var", tmp_path / "elsewhere"
    var.mkdir()
    elsewhere.mkdir()
    (elsewhere / "precious.db").write_text("precious")
    (var / "demo-station.db").write_text("x")
    (var / "demo-platform.db").symlink_to(elsewhere / "precious.db")
    with pytest.raises(ResetRefused, match="leads out of the demo's folder"):
        reset_demo_state(load_config(config))
    assert (elsewhere / "precious.db").read_text() == "precious"
    assert (var / "demo-station.db").exists()  # refused before deleting anything


def test_fresh_refuses_a_station_config(tmp_path: Path) -> None:
    """A config without [simulation] is a real station's: --fresh never deletes its database."""
    path = tmp_path / "station.toml"
    path.write_text(minimal_config(tmp_path / "station.db"))
    (tmp_path / "station.db").write_text("ledger")
    with pytest.raises(ResetRefused):
        reset_demo_state(load_config(path))
    assert (tmp_path / "station.db").read_text() == "ledger"
