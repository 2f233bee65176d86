"""The shipped demo config (examples/station.sim.toml) moved onto free ports, for tests that start `station demo`.

Every fixed port of the example (HTTP, MQTT, and each simulated device's 127.0.0.1:PORT, TCP or UDP) is
replaced by a free one, the same replacement wherever it appears, so tests never collide with a demo
someone runs on the machine, nor with each other.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO, free_port

EXAMPLE = REPO / "examples" / "station.sim.toml"
_PORT_LINE = re.compile(r"^(port\s*=\s*)(\d+)\s*$", re.MULTILINE)
_LOOPBACK = re.compile(r"127\.0\.0\.1:(\d+)")


def demo_config_text(database: str = "demo.db", *, without_sync: bool = False) -> tuple[str, dict[str, int]]:
    """(config text, {"http": port, "mqtt": port, "<old port>": new port, …}) with every port free."""
    text = EXAMPLE.read_text()
    if without_sync:
        text = text.split("# --- Central sync")[0]
    moved: dict[int, int] = {}

    def new(old: int) -> int:
        return moved.setdefault(old, free_port())

    text = _PORT_LINE.sub(lambda m: f"{m.group(1)}{new(int(m.group(2)))}", text)
    text = _LOOPBACK.sub(lambda m: f"127.0.0.1:{new(int(m.group(1)))}", text)
    text = text.replace('"../var/demo-station.db"', f'"{database}"')
    ports = {str(old): port for old, port in moved.items()}
    ports["http"] = moved[8080]
    if 47183 in moved:
        ports["mqtt"] = moved[47183]
    return text, ports


def write_demo_config(
    workdir: Path, database: str = "demo.db", *, without_sync: bool = False
) -> tuple[Path, dict[str, int]]:
    text, ports = demo_config_text(database, without_sync=without_sync)
    path = workdir / "demo.toml"
    path.write_text(text)
    return path, ports
