"""The money paths a whole-daemon run does not take, checked against their payload schemas.

The purchase service on its simulators (lock wall on a pty, ZVT terminal on TCP) runs a declined
card, a door that does not open, a partial booking, a dropped link after approval and an end of day
that settles it. Every outbox event written meanwhile must validate against the payload schema and
priority its type has in the event registry (docs/schemas/event-payloads.v1.json).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from simulators.locks import LockBusSimulator
from simulators.zvt import Outcome, ZvtSimulator
from station.db.models import OutboxEvent
from tests.purchase.conftest import SIM, open_shop
from tests.sync.schema_check import errors, rule_for

PRIORITIES = {0: "money", 1: "alarm", 2: "stock", 3: "telemetry"}


async def test_sale_door_and_end_of_day_events_match_their_payload_schemas(tmp_path: Path) -> None:
    locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.05, close_after_s=0.3)
    async with open_shop(tmp_path, locks, ZvtSimulator(SIM)) as shop:
        await shop.finished(await shop.service.begin([17]))  # 3.99: declined by the simulator
        shop.locks.set_lock_faults(0, 2, jammed=True)
        await shop.finished(await shop.service.begin([1, 2]))  # partial: one door opens, one does not
        shop.terminal_sim.script_next(Outcome.DROP_AFTER_APPROVAL)
        unknown = await shop.finished(await shop.service.begin([18]))
        assert await shop.service.terminal.end_of_day() is not None
        await shop.finished(unknown.id)
        rows = await shop.db.read(
            lambda s: [(e.type, e.schema_version, e.priority, e.payload) for e in s.scalars(select(OutboxEvent))]
        )
    problems, types = [], set()
    for event_type, version, priority, payload in rows:
        types.add(event_type)
        rule = rule_for(event_type, version)
        if rule is None:
            problems.append(f"{event_type} v{version}: no payload schema")
            continue
        if PRIORITIES[priority] != rule.priority:
            problems.append(f"{event_type}: priority {PRIORITIES[priority]}, the registry says {rule.priority}")
        problems += [f"{event_type}: {e}" for e in errors(payload, rule.payload_schema)]
    assert problems == [], "\n".join(problems)
    assert types >= {
        "sale.declined",
        "sale.authorised",
        "sale.done",
        "sale.charge_unknown",
        "sale.released_not_charged",
        "door.opened",
        "door.closed",
        "door.failed",
        "compartment.needs_check",
        "terminal.end_of_day",
        "alarm.raised",
        "stock.loaded",
    }, types
