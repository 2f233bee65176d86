"""Persistence: SQLAlchemy models, the async database façade, migrations."""

from . import (
    haccp_models,  # noqa: F401  (registers the cold-chain tables with the metadata)
    returns_models,  # noqa: F401  (deposit return items, digital receipts, print jobs)
    staff_models,  # noqa: F401  (registers the volunteer tables with the metadata)
)
from .engine import Database, DatabaseError
from .types import utcnow

__all__ = ["Database", "DatabaseError", "utcnow"]
