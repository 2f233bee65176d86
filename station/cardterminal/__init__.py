"""The card terminal as a daemon component: registration, idle polling, end-of-day, reconciliation."""

from .terminal import CardTerminal

__all__ = ["CardTerminal"]
