"""A database copied from a template made once per session: rule tests get a fresh one in a millisecond."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from station.db.engine import Database


def open_copy(template: Path, folder: Path) -> Iterator[Database]:
    """Yield an open copy of `template` in `folder`; closed when the fixture that yields from it ends."""
    path = folder / "station.db"
    shutil.copy(template, path)
    database = Database(path)
    database.open_sync()
    yield database
    database.close_sync()
