"""Compartments in the database follow the configuration (ids, locks, sizes, zones)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import CompartmentConfig
from ..db.models import Compartment, CompartmentStatus
from ..db.types import utcnow


def sync_compartments(session: Session, configured: Iterable[CompartmentConfig]) -> None:
    """Insert new compartments, update where they are; ones no longer configured go out of order."""
    now = utcnow()
    existing = {c.id: c for c in session.scalars(select(Compartment))}
    seen = set()
    for cfg in configured:
        seen.add(cfg.id)
        comp = existing.get(cfg.id)
        if comp is None:
            session.add(
                Compartment(
                    id=cfg.id,
                    bus=cfg.bus,
                    board=cfg.board,
                    lock=cfg.lock,
                    size=cfg.size,
                    zone=cfg.zone,
                    status=CompartmentStatus.EMPTY,
                    updated_at=now,
                )
            )
            continue
        if (comp.bus, comp.board, comp.lock, comp.size, comp.zone) != (
            cfg.bus,
            cfg.board,
            cfg.lock,
            cfg.size,
            cfg.zone,
        ):
            comp.bus, comp.board, comp.lock, comp.size, comp.zone = cfg.bus, cfg.board, cfg.lock, cfg.size, cfg.zone
            comp.updated_at = now
        if comp.status == CompartmentStatus.OUT_OF_ORDER and comp.blocked_reason == "not configured":
            comp.status, comp.blocked_reason, comp.updated_at = CompartmentStatus.EMPTY, None, now
    for comp_id, comp in existing.items():
        if comp_id not in seen and comp.status != CompartmentStatus.OUT_OF_ORDER:
            comp.status, comp.blocked_reason, comp.updated_at = CompartmentStatus.OUT_OF_ORDER, "not configured", now
