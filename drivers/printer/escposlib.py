"""Import python-escpos 3.1 without its import-time cost and litter.

On import, python-escpos 3.1 parses its printer capability database (a large JSON file, read
with PyYAML: about a second) and pickles the result into `$ESCPOS_CAPABILITIES_PICKLE_DIR`,
which defaults to a fresh `mkdtemp()` directory, so every process leaves one directory behind
in /tmp and never finds the previous pickle. We point it at a private cache directory (mode
0700, owned by us: a pickle is loaded as code, so a directory others can write is never used).

python-escpos truncates the pickle when it starts parsing and writes it a second later. A second
process importing in that second reads an empty file and its import fails (EOFError); a process
killed in that second leaves the empty file behind, and every later import fails the same way.
So the first import holds a lock on the cache directory, and a pickle that does not load is
removed and built again.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import stat
import sys
from pathlib import Path
from types import ModuleType
from typing import IO

PICKLE_DIR_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def _candidates() -> list[Path]:
    found = []
    if os.environ.get("CACHE_DIRECTORY"):  # systemd CacheDirectory=
        found.append(Path(os.environ["CACHE_DIRECTORY"].split(":")[0]) / "escpos")
    xdg = os.environ.get("XDG_CACHE_HOME")
    found.append((Path(xdg) if xdg else Path.home() / ".cache") / "station" / "escpos")
    return found


def _private_dir(path: Path) -> bool:
    """Create `path` (0700) if needed; True when it is ours and nobody else can write to it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def configure_capability_cache() -> str | None:
    """Set the pickle directory once (an explicit setting wins); None = python-escpos's own default."""
    if os.environ.get(PICKLE_DIR_ENV):
        return os.environ[PICKLE_DIR_ENV]
    for candidate in _candidates():
        if _private_dir(candidate):
            os.environ[PICKLE_DIR_ENV] = str(candidate)
            return str(candidate)
    return None


def escpos_printer() -> ModuleType:
    """`escpos.printer`, imported with the capability cache configured."""
    if "escpos.printer" in sys.modules:
        return sys.modules["escpos.printer"]
    cache = configure_capability_cache()
    lock = _open_lock(Path(cache)) if cache else None
    if cache is None or lock is None:
        return _import()
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, also by a killed process
        try:
            return _import()
        except (EOFError, pickle.UnpicklingError):
            # A pickle cut short by a process killed while writing it: build it again.
            _forget_escpos()
            for stale in Path(cache).glob("*.capabilities.pickle"):
                stale.unlink(missing_ok=True)
            return _import()


def _open_lock(cache: Path) -> IO[str] | None:
    try:
        return open(cache / "import.lock", "a")  # closed by the caller's `with`
    except OSError:
        return None  # a read-only directory someone set: python-escpos cannot write there either


def _import() -> ModuleType:
    import escpos.printer

    return escpos.printer


def _forget_escpos() -> None:
    """Drop the half-imported modules, so the next import runs python-escpos's module code again."""
    for name in [name for name in sys.modules if name == "escpos" or name.startswith("escpos.")]:
        del sys.modules[name]
