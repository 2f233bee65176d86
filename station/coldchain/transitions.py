"""Persisted cold-chain transitions: zone alarms, the cold-chain block flow, and excursions in progress.

Each function runs inside the caller's transaction (pass it to `Database.write`) and writes, together:
the domain change, the alarm, the audit entry, a typed outbox event for the platform, and the HACCP
log rows. A block is a flow on the engine (`BLOCK`: blocked → released) and a hold on the compartment
(`compartments.owner.hold`), which keeps it from sale and pick-up whatever its status.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..compartments import contents, owner
from ..db.haccp_models import ColdChainBlock, ColdChainExcursion
from ..db.models import Alarm, Compartment, CompartmentContent, Product
from ..db.types import utcnow
from ..flows.engine import Arrow, Flow, created, transition
from ..journal import audit, clear_alarm, raise_alarm
from . import haccp
from .haccp import Entry

ZONE_ALARM = "coldchain.zone_excursion"
COMPARTMENT_ALARM = "coldchain.excursion"
HOLD = "cold_chain"  # the compartment hold kind
RELEASES = ("discarded", "kept", "operator_release")


class BlockState(enum.StrEnum):
    BLOCKED = "blocked"
    RELEASED = "released"


def _block_payload(session: Session, block_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    blk = session.get_one(ColdChainBlock, block_id)
    return {"block_id": blk.id, "compartment": blk.compartment_id, "zone": blk.zone, "alarm_id": blk.alarm_id,
            "limit_c": blk.limit_c, **details}


BLOCK = Flow(
    name="coldchain_block",
    table=ColdChainBlock.__table__,  # type: ignore[arg-type]
    model=ColdChainBlock,
    states=BlockState,
    arrows=[
        Arrow(None, BlockState.BLOCKED, "beyond its limit longer than the delay: no sale, no pick-up",
              event="coldchain.compartment_blocked", alarm=COMPARTMENT_ALARM, severity="critical"),
        Arrow(BlockState.BLOCKED, BlockState.RELEASED, "corrective action (discarded / kept) or operator override",
              event="coldchain.compartment_released", clears=COMPARTMENT_ALARM),
    ],
    final=frozenset({BlockState.RELEASED}),
    recovery={BlockState.BLOCKED: "the compartment's hold is asserted again; only a corrective action or an "
              "operator releases it"},
    payload=_block_payload,
    stamp=None,
    alarm_subject=lambda session, block_id: f"compartment:{session.get_one(ColdChainBlock, block_id).compartment_id}",
)


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
    found: dict[str, dict[str, float]] = {}
    for zone, subject, started in session.execute(
        select(ColdChainExcursion.zone, ColdChainExcursion.subject, ColdChainExcursion.started_at)
    ):
        found.setdefault(zone, {})[subject] = started
    return found


def save_excursion_starts(session: Session, zone: str, starts: dict[str, float]) -> None:
    """Remember a zone's excursions in progress (none: forget them), so a restart does not restart their delay."""
    session.execute(delete(ColdChainExcursion).where(ColdChainExcursion.zone == zone))
    if starts:
        session.execute(
            insert(ColdChainExcursion),
            [{"zone": zone, "subject": subject, "started_at": started} for subject, started in sorted(starts.items())],
        )


def open_block(session: Session, compartment: int) -> ColdChainBlock | None:
    return session.scalar(
        select(ColdChainBlock).where(
            ColdChainBlock.compartment_id == compartment, ColdChainBlock.state == BlockState.BLOCKED.value
        )
    )


def blocked_compartments(session: Session) -> set[int]:
    return set(
        session.scalars(select(ColdChainBlock.compartment_id).where(ColdChainBlock.state == BlockState.BLOCKED.value))
    )


def reassert_hold(session: Session, block_id: int) -> bool:
    """Recovery of the blocked state: the open block holds its compartment (idempotent); True if it was missing."""
    blk = session.get_one(ColdChainBlock, block_id)
    return owner.hold(session, blk.compartment_id, HOLD, actor="system", reference=f"alarm:{blk.alarm_id}",
                      reason="Kühlung gestört")


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
    """Block sale and pick-up of a compartment; returns the block id, None if it was already blocked."""
    if open_block(session, compartment) is not None:
        return None
    if session.get(Compartment, compartment) is None:
        raise ColdChainError(f"no compartment {compartment}")
    block_id = session.execute(
        insert(ColdChainBlock).values(compartment_id=compartment, state=BlockState.BLOCKED.value, zone=zone,
                                      cause=str(details.get("cause", "temperature")), limit_c=limit_c,
                                      blocked_at=utcnow(), details=details).returning(ColdChainBlock.id)
    ).scalar_one()
    subject = f"compartment:{compartment}"
    alarm = raise_alarm(session, COMPARTMENT_ALARM, subject, severity="critical", details={"zone": zone, **details})
    session.get_one(ColdChainBlock, block_id).alarm_id = alarm.id
    session.flush()
    owner.hold(session, compartment, HOLD, actor="system", reference=f"alarm:{alarm.id}", reason="Kühlung gestört")
    payload = {"compartment": compartment, "zone": zone, "alarm_id": alarm.id, "limit_c": limit_c, **details}
    created(session, BLOCK, block_id, reason=str(details.get("cause")), reference=f"alarm:{alarm.id}", **details)
    haccp.append(session, [_event(at, "compartment_blocked", payload)])
    return int(block_id)


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
    by_name: str | None = None,
) -> dict[str, Any]:
    """Release a blocked compartment after a corrective action or an operator override; returns the event payload.

    `by_name` (the person's name, when a volunteer did it) goes into the payload and the HACCP log.
    """
    if how not in RELEASES:
        raise ColdChainError(f"unknown corrective action {how!r}: one of {', '.join(RELEASES)}")
    blk = open_block(session, compartment)
    if blk is None:
        raise ColdChainError(f"compartment {compartment} is not blocked by the cold chain")
    discarded: list[dict[str, Any]] = []
    if how == "discarded":
        discarded = contents.remove_all(session, compartment, actor=actor, reason="cold_chain_discarded")["items"]
    blk.released_at, blk.release, blk.released_by = utcnow(), how, actor
    blk.reason, blk.measured_c = reason, measured_c
    owner.release_hold(session, compartment, HOLD, actor=actor, reference=reference)
    payload: dict[str, Any] = {
        "compartment": compartment,
        "zone": blk.zone,
        "alarm_id": blk.alarm_id,
        "action": how,
        "by": actor,
        "reason": reason,
        "measured_c": measured_c,
        "reference": reference,
        "status": str(owner.status(session, compartment)),
        "discarded": discarded,
    }
    if by_name is not None:
        payload["by_name"] = by_name
    action = "operator_release" if how == "operator_release" else f"corrective_{how}"
    details = {k: v for k, v in payload.items() if k not in ("compartment", "zone", "alarm_id", "reason", "reference")}
    transition(session, BLOCK, blk.id, BlockState.RELEASED, actor=actor, reason=action, reference=reference,
               why=reason, **details)
    haccp.append(session, [_event(at, "compartment_released", payload)])
    session.flush()
    return payload


def _event(at: datetime, what: str, detail: dict[str, Any]) -> Entry:
    return Entry(at=at, kind="event", status=what, detail=detail)
