"""Configuration of volunteer and operator log-in, sessions and their daily report (`[staff]`)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from .base import Name, Section


class StaffConfig(Section):
    """Accounts live in the database; their PIN pepper and badge key live in `secret_file`, outside it."""

    secret_file: Path | None = Field(
        default=None,
        description="the station's key for badge UIDs, PINs and enrolment codes (32 random bytes, mode 0600, "
        "made at first need); default: beside the database, `<database file>.key`. Keep it out of database "
        "backups: a stolen database without it reveals no badge and allows no offline PIN guessing",
    )
    session_idle_s: float = Field(default=300.0, ge=30, le=1800, description="a log-in ends after this long idle")
    keypads: list[Name] = Field(
        default_factory=lambda: ["kiosk"],
        min_length=1,
        max_length=8,
        description="keypad ids a client may name in the X-Keypad header (PIN guesses are throttled per keypad)",
    )
    badge_tap_valid_s: float = Field(
        default=15.0, ge=2, le=120, description="a badge log-in uses a tap on the reader at most this old"
    )
    expiry_warning_days: int = Field(
        default=1, ge=0, le=14, description="tasks name goods whose use-by or best-before date comes within this"
    )
    end_of_day_report_at: str = Field(
        default="04:00", description="local time at which the previous day's report goes to the platform (HH:MM)"
    )

    @field_validator("end_of_day_report_at")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError("expected HH:MM (24 h)")
        return value

    @field_validator("keypads")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each keypad id once")
        return value

    def secret_path(self, database: Path) -> Path:
        """Where the key file is: the configured path, else beside the database."""
        return self.secret_file or database.with_name(database.name + ".key")
