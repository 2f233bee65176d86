"""The demo station (daemon + simulated lock wall, card terminal, fridges) as a real process, for API tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.helpers.daemon import DaemonProcess

DEVICE_PORTS = (47101, 47103, 47107, 47109, 47111)  # simulated devices' ports (TCP; NFC: UDP) in station.sim.toml


def demo_config(workdir: Path, http_port: int) -> Path:
    """examples/station.sim.toml on free ports, its database in `workdir`, without the MQTT part."""
    text = (REPO / "examples" / "station.sim.toml").read_text()
    text = text.split("# --- Central sync")[0]  # no broker: the API does not need one
    text = text.replace("port = 8080", f"port = {http_port}").replace('"../var/demo-station.db"', '"demo.db"')
    for port in DEVICE_PORTS:
        text = re.sub(rf"127\.0\.0\.1:{port}\b", f"127.0.0.1:{free_port()}", text)
    path = workdir / "demo.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def demo_station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running demo station; its log is printed if the daemon dies."""
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    config = demo_config(workdir, port)
    daemon = DaemonProcess(["demo", "--config", str(config), "--log-format", "text"], log_path=workdir / "log")
    try:
        base_url = f"http://127.0.0.1:{port}"
        daemon.wait_http(f"{base_url}/api/health", timeout=30)
        yield base_url
        assert daemon.proc.poll() is None, daemon.log()
    finally:
        daemon.stop()
