"""Configuration overlays from the operator (signed `apply_config_overlay`), merged over the file at start.

The file on the station stays the only source of its identity, its reachability and its trust
anchors: an overlay may not touch those (PROTECTED). Everything else merges table by table (a
table merges key by key; a list or a value replaces what the file has), and the result is
validated exactly like the file (the models and the environment checks). The overlay is kept in
`station_meta` by the command handler and takes effect at the next start; an overlay that no
longer fits the file (the file changed since) is not applied, and the station runs on its file
and says so in /api/health.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import Config, ConfigError, describe, validate_config
from .environment import check_environment

log = logging.getLogger(__name__)

SOURCE = "config overlay"

# Dotted path -> why an overlay may not change it.
PROTECTED: dict[str, str] = {
    "station": "the station's identity",
    "database": "where the ledger lives",
    "simulation": "whether the hardware is simulated",
    "http": "where the local API listens",
    "staff.secret_file": "the key that protects PINs and badges",
    "mqtt.brokers": "how the station reaches the platform",
    "mqtt.tls": "the station's certificate and trusted CA",
    "mqtt.username": "the station's broker credentials",
    "mqtt.password": "the station's broker credentials",
    "mqtt.client_id": "the station's broker session",
    "mqtt.topic_prefix": "the station's topics",
    "mqtt.operator_keys": "the pinned operator keys",
}


@dataclass(frozen=True)
class OverlayState:
    """What became of the stored overlay at start-up (reported in /api/health)."""

    state: str  # "none" | "applied" | "rejected"
    sha256: str | None = None
    version: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "sha256": self.sha256, "version": self.version, "detail": self.detail}


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """A new dict: tables merge key by key, anything else in `overlay` replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def protected_changes(overlay: dict[str, Any], prefix: str = "") -> list[str]:
    """One problem line per protected path the overlay touches."""
    problems = []
    for key, value in overlay.items():
        path = f"{prefix}{key}"
        if path in PROTECTED:
            problems.append(f"{path}: may not be changed remotely ({PROTECTED[path]}); edit the file on the station")
        elif isinstance(value, dict):
            problems.extend(protected_changes(value, f"{path}."))
        elif inside := [p for p in PROTECTED if p.startswith(f"{path}.")]:  # e.g. "mqtt": null drops the brokers
            problems.append(f"{path}: may not be replaced as a whole remotely (it holds {', '.join(inside)})")
    return problems


def apply_overlay(file_config: Config, overlay: dict[str, Any]) -> Config:
    """The file's config with `overlay` merged in; raises ConfigError naming every problem."""
    if not isinstance(overlay, dict):
        raise ConfigError(SOURCE, ["an overlay is a table of config sections"])
    problems = protected_changes(overlay)
    if problems:
        raise ConfigError(SOURCE, problems)
    base = file_config.model_dump(mode="python", exclude_unset=True)
    config = validate_config(merge(base, overlay), SOURCE)
    # What start-up would refuse in a file (a lock bus moved to /dev/null) it refuses in an overlay.
    problems = [describe(f.loc, f.message, None) for f in check_environment(config) if not f.warning]
    if problems:
        raise ConfigError(SOURCE, problems)
    return config


def read_stored_overlay(db_path: Path) -> tuple[str, str, str | None] | None:
    """(overlay as JSON text, sha256, version) from `station_meta`, or None (no database, table or overlay yet).

    Read once at start-up, before the daemon's loop and database thread exist.
    """
    if not db_path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            rows = dict(
                con.execute(
                    "SELECT key, value FROM station_meta WHERE key IN "
                    "('config_overlay', 'config_overlay_sha256', 'config_overlay_version')"
                ).fetchall()
            )
        finally:
            con.close()
    except sqlite3.Error as exc:  # a fresh database without the table yet
        log.debug("no stored config overlay: %s", exc)
        return None
    if "config_overlay" not in rows:
        return None
    return rows["config_overlay"], rows.get("config_overlay_sha256", ""), rows.get("config_overlay_version")


def effective_config(file_config: Config) -> tuple[Config, OverlayState]:
    """The config to run with: the file plus the stored overlay, or the file alone if that is invalid."""
    stored = read_stored_overlay(file_config.database.path)
    if stored is None:
        return file_config, OverlayState("none")
    text, sha256, version = stored
    try:
        config = apply_overlay(file_config, json.loads(text))
    except ValueError as exc:  # a damaged row: run on the file, say why
        detail = f"the stored overlay is not JSON: {exc}"
        log.error("stored config overlay %s (version %s) is not applied: %s", sha256[:12], version, detail)
        return file_config, OverlayState("rejected", sha256, version, detail[:500])
    except ConfigError as exc:
        detail = "; ".join(exc.problems)
        log.error("stored config overlay %s (version %s) is not applied: %s", sha256[:12], version, detail)
        return file_config, OverlayState("rejected", sha256, version, detail[:500])
    log.info("config overlay %s (version %s) applied over the file", sha256[:12], version)
    return config, OverlayState("applied", sha256, version)
