"""Persisted cold-chain transitions: zone alarms, compartment blocks and their release.

Each function runs inside the caller's transaction (pass it to `Database.write`) and writes, together:
the domain change, the alarm, the audit entry (each with its outbox event), a typed outbox event for
the platform, and the HACCP log rows. A compartment's status before the block is kept in its
`ColdChainBlock` row and restored on release.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.haccp_models import ColdChainBlock
from ..db.models import (
    Alarm,
    Compartment,
    CompartmentContent,
    CompartmentStatus,
    Priority,
    Product,
    StationMeta,
)
from ..db.types import utcnow
from ..journal import audit, clear_alarm, raise_alarm
from ..outbox import record_event
from . import haccp
from .haccp import Entry

ZONE_ALARM = "coldchain.zone_excursion"
_EXCURSION = "coldchain.excursion."  # station_meta key prefix, one row per zone with excursions in progress
COMPARTMENT_ALARM = "coldchain.excursion"
RELEASES = ("discarded", "kept", "operator_release")
_KEEP_AS_IS = (CompartmentStatus.OUT_OF_ORDER, CompartmentStatus.BLOCKED)  # other owners' states survive us


class ColdChainError(ValueError):
    """A corrective action or release that cannot be accepted (the message says why)."""


@dataclass(frozen=True)
class Stocked:
    """A compartment of a supervised zone and the product classes loaded in it (quantity > 0)."""

    compartment: int
    zone: str
    classes: frozenset[str]


def stocked_compartments(session: Session, zones: Collection[str]) -> list[Stocked]:
    """Every compartment of these zones that holds goods, with their temperature classes."""
    rows = session.execute(
        select(Compartment.id, Compartment.zone, Product.temperature_class)
        .join(CompartmentContent, CompartmentContent.compartment_id == Compartment.id)
        .join(Product, Product.id == CompartmentContent.product_id)
        .where(Compartment.zone.in_(list(zones)), CompartmentContent.quantity > 0)
    ).all()
    found: dict[int, tuple[str, set[str]]] = {}
    for comp_id, zone, cls in rows:
        found.setdefault(comp_id, (str(zone), set()))[1].add(cls)
    return [Stocked(c, zone, frozenset(classes)) for c, (zone, classes) in sorted(found.items())]


def compartment_goods(session: Session, compartment: int) -> tuple[str | None, Stocked | None]:
    """The compartment's zone and its goods' classes (None when it holds nothing)."""
    comp = session.get(Compartment, compartment)
    if comp is None:
        raise ColdChainError(f"no compartment {compartment}")
    if comp.zone is None:
        return None, None
    found = [s for s in stocked_compartments(session, [comp.zone]) if s.compartment == compartment]
    return comp.zone, (found[0] if found else None)


def open_state(session: Session) -> tuple[set[int], set[str]]:
    """Compartments blocked and zones in alarm, as left by the previous run."""
    zones = session.scalars(select(Alarm.subject).where(Alarm.kind == ZONE_ALARM, Alarm.state == "raised"))
    return blocked_compartments(session), {s.removeprefix("zone:") for s in zones}


def excursion_starts(session: Session) -> dict[str, dict[str, float]]:
    """Excursions in progress when the previous run ended: zone -> {"zone" or compartment id: start (epoch s)}."""
    rows = session.execute(select(StationMeta.key, StationMeta.value).where(StationMeta.key.like(f"{_EXCURSION}%")))
    return {key.removeprefix(_EXCURSION): json.loads(value) for key, value in rows}


def save_excursion_starts(session: Session, zone: str, starts: dict[str, float]) -> None:
    """Remember a zone's excursions in progress (none: forget them), so a restart does not restart their delay."""
    key = f"{_EXCURSION}{zone}"
    row = session.get(StationMeta, key)
    if not starts:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(StationMeta(key=key, value=json.dumps(starts, sort_keys=True)))
    else:
        row.value = json.dumps(starts, sort_keys=True)


def open_block(session: Session, compartment: int) -> ColdChainBlock | None:
    return session.scalar(
        select(ColdChainBlock).where(ColdChainBlock.compartment_id == compartment, ColdChainBlock.released_at.is_(None))
    )


def blocked_compartments(session: Session) -> set[int]:
    return set(session.scalars(select(ColdChainBlock.compartment_id).where(ColdChainBlock.released_at.is_(None))))


def sale_blocked(session: Session, compartment: int) -> bool:
    """True while a cold-chain block is open for the compartment: no sale, no pick-up.

    Call it inside the transaction that reserves the goods, so a block committed just before cannot be missed.
    """
    return open_block(session, compartment) is not None


def zone_alarm(session: Session, zone: str, details: dict[str, Any], entries: Sequence[Entry], at: datetime) -> int:
    """A zone has been beyond its limit for longer than the delay: raise its alarm (once) and log it."""
    alarm = raise_alarm(session, ZONE_ALARM, f"zone:{zone}", severity="critical", details=details)
    audit(session, "coldchain.zone_excursion", f"zone:{zone}", reason=details.get("cause"), details=details)
    haccp.append(session, [_event(at, "zone_excursion", {"zone": zone, "alarm": alarm.id, **details}), *entries])
    return alarm.id


def zone_recovered(
    session: Session, zone: str, details: dict[str, Any], entries: Sequence[Entry], at: datetime
) -> None:
    """The zone is back within its limit: clear its alarm and log it (blocked compartments stay blocked)."""
    clear_alarm(session, ZONE_ALARM, f"zone:{zone}", details=details)
    audit(session, "coldchain.zone_recovered", f"zone:{zone}", details=details)
    haccp.append(session, [_event(at, "zone_recovered", {"zone": zone, **details}), *entries])


def block(
    session: Session, compartment: int, zone: str, limit_c: float, details: dict[str, Any], at: datetime
) -> int | None:
    """Block sale and pick-up of a compartment; returns the alarm id, None if it was already blocked."""
    if open_block(session, compartment) is not None:
        return None
    comp = session.get_one(Compartment, compartment)
    subject = f"compartment:{compartment}"
    alarm = raise_alarm(session, COMPARTMENT_ALARM, subject, severity="critical", details={"zone": zone, **details})
    session.add(
        ColdChainBlock(
            compartment_id=compartment,
            alarm_id=alarm.id,
            zone=zone,
            cause=str(details.get("cause", "temperature")),
            limit_c=limit_c,
            previous_status=comp.status,
            previous_reason=comp.blocked_reason,
            blocked_at=utcnow(),
            details=details,
        )
    )
    comp.status, comp.blocked_reason, comp.updated_at = CompartmentStatus.BLOCKED, f"cold_chain:{alarm.id}", utcnow()
    payload = {"compartment": compartment, "zone": zone, "alarm_id": alarm.id, "limit_c": limit_c, **details}
    audit(
        session,
        "coldchain.blocked",
        subject,
        reason=payload.get("cause"),
        reference=f"alarm:{alarm.id}",
        details=payload,
    )
    record_event(session, "coldchain.compartment_blocked", payload, priority=Priority.STOCK)
    haccp.append(session, [_event(at, "compartment_blocked", payload)])
    session.flush()
    return alarm.id


def release(
    session: Session,
    compartment: int,
    how: str,
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
    measured_c: float | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """Release a blocked compartment after a corrective action or an operator override; returns the event payload."""
    if how not in RELEASES:
        raise ColdChainError(f"unknown corrective action {how!r}: one of {', '.join(RELEASES)}")
    blk = open_block(session, compartment)
    if blk is None:
        raise ColdChainError(f"compartment {compartment} is not blocked by the cold chain")
    comp = session.get_one(Compartment, compartment)
    discarded = _discard(session, compartment) if how == "discarded" else []
    our_reason = f"cold_chain:{blk.alarm_id}"
    if comp.status == CompartmentStatus.BLOCKED and comp.blocked_reason == our_reason:
        comp.status, comp.blocked_reason = _restored(session, blk, discarded=how == "discarded")
    else:  # another flow changed the status meanwhile: keep it, drop only our reason
        if comp.blocked_reason == our_reason:
            comp.blocked_reason = None
        if discarded and comp.status in (CompartmentStatus.LOADED, CompartmentStatus.RESERVED):
            comp.status = CompartmentStatus.EMPTY
    comp.updated_at = utcnow()
    blk.released_at, blk.release, blk.released_by = utcnow(), how, actor
    blk.reason, blk.measured_c = reason, measured_c
    payload = {
        "compartment": compartment,
        "zone": blk.zone,
        "alarm_id": blk.alarm_id,
        "action": how,
        "by": actor,
        "reason": reason,
        "measured_c": measured_c,
        "reference": reference,
        "status": comp.status,
        "previous_status": blk.previous_status,
        "discarded": discarded,
    }
    subject = f"compartment:{compartment}"
    clear_alarm(session, COMPARTMENT_ALARM, subject, details={"action": how, "by": actor})
    action = "coldchain.operator_release" if how == "operator_release" else f"coldchain.corrective_{how}"
    audit(session, action, subject, actor=actor, reason=how, reference=reference, details=payload)
    record_event(session, "coldchain.compartment_released", payload, priority=Priority.STOCK)
    haccp.append(session, [_event(at, "compartment_released", payload)])
    session.flush()
    return payload


def _discard(session: Session, compartment: int) -> list[dict[str, Any]]:
    """Take the compartment's goods out of stock (quantity 0, as `stock.take_out` does); returns what went."""
    rows = session.execute(
        select(CompartmentContent, Product.gtin, Product.name)
        .join(Product, Product.id == CompartmentContent.product_id)
        .where(CompartmentContent.compartment_id == compartment, CompartmentContent.quantity > 0)
    ).all()
    items = [{"gtin": gtin, "name": name, "quantity": c.quantity} for c, gtin, name in rows]
    for content, _gtin, _name in rows:
        content.quantity = 0
    return items


def _restored(session: Session, blk: ColdChainBlock, *, discarded: bool) -> tuple[str, str | None]:
    """Status after release: what it was before, unless that was transient (open) or the goods are gone.

    Only called while the compartment still shows our block; a status another flow set meanwhile is kept.
    """
    previous = CompartmentStatus(blk.previous_status)
    if previous in _KEEP_AS_IS:
        return previous, blk.previous_reason
    if discarded:
        return CompartmentStatus.EMPTY, None
    if previous is CompartmentStatus.OPEN:
        has_goods = session.scalar(
            select(CompartmentContent.id).where(
                CompartmentContent.compartment_id == blk.compartment_id, CompartmentContent.quantity > 0
            )
        )
        return (CompartmentStatus.LOADED if has_goods else CompartmentStatus.EMPTY), None
    return previous, blk.previous_reason


def _event(at: datetime, what: str, detail: dict[str, Any]) -> Entry:
    return Entry(at=at, kind="event", status=what, detail=detail)
