"""Shared fixtures: a migrated database, free ports, a minimal valid config."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from station.db import migrate
from station.db.engine import Database

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def minimal_config(db_path: Path, http_port: int = 0, extra: str = "") -> str:
    return f"""
[station]
id = "test-01"

[database]
path = "{db_path}"

[http]
host = "127.0.0.1"
port = {http_port}
{extra}
"""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "station.db"
    migrate.upgrade(path)
    return path


@pytest.fixture
def db(db_path: Path):
    database = Database(db_path)
    database.open_sync()
    yield database
    database.close_sync()


# Packages whose tests share an expensive fixture (one demo station, one browser): with pytest-xdist
# (scripts/test runs two workers) each package stays on one worker, so it starts them once.
SHARED_FIXTURE_PACKAGES = ("ui", "api")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO).parts
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in SHARED_FIXTURE_PACKAGES:
            item.add_marker(pytest.mark.xdist_group(parts[1]))
