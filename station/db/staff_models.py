"""Volunteer tables: log-in sessions, the PIN and badge throttle, restocking sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class VolunteerSession(Base):
    """One log-in (station/staff/sessions.py): active → ended (log-out) | expired (idle, disabled, restart).

    Only a SHA-256 of the session token is stored; the token itself lives in the client and in memory.
    """

    __tablename__ = "volunteer_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))  # pin | badge | badge+pin | enrolment
    keypad: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime]


class StaffThrottle(Base):
    """Failed log-in attempts of one scope (`keypad:<id>`, `pin:<account>`, `reader:<name>`, `badge:<account>`).

    `consecutive` counts failures since the last success (pauses), `recent` holds the times of the
    failures of the last 24 hours (the lock). A lock stays until an operator lifts it.
    """

    __tablename__ = "staff_throttle"
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    consecutive: Mapped[int] = mapped_column(Integer, default=0)
    recent: Mapped[list[str]] = mapped_column(JSON, default=list)
    paused_until: Mapped[datetime | None] = mapped_column(nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RestockSession(Base):
    """A compartment opened by a volunteer to restock or clean it (station/restock/flow.py)."""

    __tablename__ = "restock_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compartment_id: Mapped[int] = mapped_column(ForeignKey("compartments.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_sessions.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))  # restock | clean
    state: Mapped[str] = mapped_column(String(16))
    previous_status: Mapped[str] = mapped_column(String(16))  # the compartment's status before it was opened
    door_operation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
