"""Schema migrations: from empty, from a previous revision with data in it, schema == models."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from station.db import migrate
from station.db.engine import Database, make_engine
from station.db.models import Base
from tests.conftest import PYTHON, REPO


def test_upgrade_from_empty_reaches_head_and_matches_the_models(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    before = migrate.status(path)
    assert before.current is None and before.pending[:2] == ["0001", "0002"] and before.pending[-1] == migrate.head()
    migrate.upgrade(path)
    status = migrate.status(path)
    assert status.up_to_date and status.current == migrate.head()
    engine = make_engine(path)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_upgrade_from_previous_revision_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    migrate.upgrade(path, "0001")
    con = sqlite3.connect(path)
    epoch = con.execute("SELECT value FROM station_meta WHERE key='db_epoch'").fetchone()[0]
    now = "2026-11-22T10:00:00.000000+00:00"
    con.execute(
        "INSERT INTO products (gtin, name, price_cents, vat_rate_bp, deposit_cents, temperature_class, active,"
        " updated_at) VALUES ('4006381333931', 'Hofmilch 1 l', 149, 700, 15, 'chilled', 1, ?)",
        (now,),
    )
    con.execute(
        "INSERT INTO compartments (id, bus, board, lock, size, status, updated_at)"
        " VALUES (12, 'wall-a', 0, 12, 'M', 'loaded', ?)",
        (now,),
    )
    con.execute(
        "INSERT INTO outbox (event_id, db_epoch, stream, seq, type, schema_version, priority, payload, created_at)"
        " VALUES ('e1', ?, 'main', 1, 'audit', 1, 2, '{}', ?)",
        (epoch, now),
    )
    con.commit()
    con.close()

    migrate.upgrade(path)

    con = sqlite3.connect(path)
    assert con.execute("SELECT name, price_cents FROM products").fetchall() == [("Hofmilch 1 l", 149)]
    assert con.execute("SELECT id, status, door_state FROM compartments").fetchall() == [(12, "loaded", None)]
    assert con.execute("SELECT event_id, seq FROM outbox").fetchall() == [("e1", 1)]
    assert con.execute("SELECT value FROM station_meta WHERE key='db_epoch'").fetchone()[0] == epoch
    assert con.execute("SELECT count(*) FROM door_operations").fetchone()[0] == 0
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_every_database_gets_its_own_epoch(tmp_path: Path) -> None:
    epochs = set()
    for name in ("a.db", "b.db"):
        migrate.upgrade(tmp_path / name)
        db = Database(tmp_path / name)
        db.open_sync()
        epochs.add(db.epoch)
        db.close_sync()
    assert len(epochs) == 2


def test_db_commands(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    cmd = [PYTHON, "-m", "station.cli", "db"]
    missing = subprocess.run([*cmd, "status", "--database", str(path)], capture_output=True, text=True)
    assert missing.returncode == 1 and "no database yet" in missing.stdout
    assert not path.exists()
    up = subprocess.run([*cmd, "upgrade", "--database", str(path)], capture_output=True, text=True)
    assert up.returncode == 0 and f"empty -> {migrate.head()}" in up.stdout
    status = subprocess.run([*cmd, "status", "--database", str(path)], capture_output=True, text=True)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_pragmas_are_in_effect_on_every_connection(db: Database) -> None:
    from station.db.engine import read_pragmas

    assert read_pragmas(db.engine) == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_the_head_read_from_the_files_is_alembics_and_a_current_database_is_recognised(tmp_path: Path) -> None:
    assert migrate.file_head() == migrate.head()
    path = tmp_path / "station.db"
    assert not migrate.is_current(path)  # not there
    migrate.upgrade(path, "0010")
    assert not migrate.is_current(path)  # one behind
    migrate.upgrade(path)
    assert migrate.is_current(path)


def test_a_daemon_on_a_current_database_never_loads_alembic(tmp_path: Path) -> None:
    path = tmp_path / "station.db"
    migrate.upgrade(path)
    code = (
        "import sys, asyncio\n"
        "from station.db.engine import Database\n"
        "from station.dbcomponent import DatabaseComponent\n"
        f"component = DatabaseComponent(Database({str(path)!r}))\n"
        "async def main():\n"
        "    await component.start()\n"
        "    await component.stop()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))\n"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip().splitlines()[-1] == "[]"
