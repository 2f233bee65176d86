"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes stored as sortable ISO-8601 text (microseconds, `+00:00`)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> str | None:
        return None if value is None else to_db_time(value)

    def process_result_value(self, value: str | None, dialect: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


def to_db_time(value: datetime) -> str:
    """The stored form of a time: UTC ISO-8601 with microseconds, so text order is time order."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: use timezone-aware UTC times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def utcnow() -> datetime:
    return datetime.now(UTC)
