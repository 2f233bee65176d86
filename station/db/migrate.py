"""Schema migrations (Alembic), applied by `station db upgrade` and at start-up."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .engine import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    pending: list[str]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def head() -> str:
    """The newest revision this software knows."""
    rev = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert rev is not None
    return rev


def status(path: Path) -> SchemaStatus:
    script = ScriptDirectory.from_config(_alembic_config())
    engine = make_engine(Path(path))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    head = script.get_current_head()
    assert head is not None
    pending = [rev.revision for rev in script.iterate_revisions(head, current)]
    return SchemaStatus(current, head, list(reversed(pending)))


def upgrade(path: Path, revision: str = "head") -> None:
    """Bring the database at `path` to `revision`, creating the file when missing."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not Path(path).exists():  # a new file frees pages incrementally from the start (retention)
        with contextlib.closing(sqlite3.connect(path)) as con:
            con.execute("PRAGMA auto_vacuum=INCREMENTAL")
            con.execute("VACUUM")
    engine = make_engine(Path(path))
    try:
        with engine.connect() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()
