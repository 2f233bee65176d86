"""Import python-escpos 3.1 without its import-time cost and litter.

On import, python-escpos 3.1 parses its printer capability database (a large JSON file, read
with PyYAML: about a second) and pickles the result into `$ESCPOS_CAPABILITIES_PICKLE_DIR`,
which defaults to a fresh `mkdtemp()` directory, so every process leaves one directory behind
in /tmp and never finds the previous pickle. We point it at a private cache directory (mode
0700, owned by us: a pickle is loaded as code, so a directory others can write is never used).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import ModuleType

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
    configure_capability_cache()
    import escpos.printer

    return escpos.printer
