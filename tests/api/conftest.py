"""The demo station (daemon + simulated lock wall, card terminal, fridges) as a real process, for API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers.daemon import DaemonProcess
from tests.helpers.demo import write_demo_config


def demo_config(workdir: Path, http_port: int) -> Path:
    """examples/station.sim.toml on free ports, its database in `workdir`, without the MQTT part."""
    path, ports = write_demo_config(workdir, without_sync=True)
    path.write_text(path.read_text().replace(f"port = {ports['http']}", f"port = {http_port}"))
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
