"""Schema migrations (Alembic), applied by `station db upgrade` and at start-up.

Alembic (with Mako) is imported only when a database is behind: `is_current` reads the revision
with sqlite3 and the head from the migration files, so a daemon starting on a current database
never loads it (about 11 MB of an idle station's memory).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r'^(down_revision|revision) = (?:"([^"]+)"|None)$', re.M)


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

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
    from alembic.script import ScriptDirectory

    rev = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert rev is not None
    return rev


def file_head(versions: Path = MIGRATIONS / "versions") -> str:
    """The newest revision, read from the migration files without Alembic: the one no other revises.

    `versions`: another checkout's migration folder (the benchmarks compare checkouts)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in versions.glob("*.py"):
        for kind, value in _REVISION.findall(script.read_text()):
            (revisions if kind == "revision" else revised).add(value)
    heads = revisions - revised - {""}
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def is_current(path: Path) -> bool:
    """The database at `path` is at the newest revision (read with sqlite3; False when it is not there)."""
    if not Path(path).is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == file_head()


def status(path: Path) -> SchemaStatus:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

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
    from alembic import command

    engine = make_engine(Path(path))
    try:
        with engine.connect() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()
