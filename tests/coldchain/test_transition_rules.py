"""Cold-chain transitions on a real database without a fridge line: a block holds its compartment and
raises its alarm once, a release needs a known corrective action on an open block, writes what was done
(contents discarded, hold lifted, event against its schema, HACCP rows), and restarts find what was left.

These are the module's own tests for mutation testing (mutation.toml); tests/coldchain/test_corrective.py
drives the same functions through the service against a simulated controller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from station.coldchain import transitions as tr
from station.coldchain.transitions import BlockState, ColdChainError, Stocked
from station.compartments import owner
from station.db.engine import Database
from station.db.haccp_models import ColdChainBlock, HaccpRecord
from station.db.models import Alarm, AuditEntry, Compartment, OutboxEvent, Product
from tests.purchase.saledb import compartment
from tests.sync.schema_check import errors, rule_for

AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
CAUSE = {"cause": "temperature", "celsius": 9.5}


def _events(db: Database, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    rows = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])
    for kind, payload in rows:
        rule = rule_for(kind)
        assert rule is not None and errors(payload, rule.payload_schema) == [], (kind, payload)
    return [(k, p) for k, p in rows if k.startswith(prefix)]


def _alarms(db: Database, kind: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    return db.run_sync(lambda s: [(a.subject, a.severity, a.state, a.details)
                                  for a in s.scalars(select(Alarm).where(Alarm.kind == kind).order_by(Alarm.id))])


def _haccp(db: Database) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    import json

    return db.run_sync(lambda s: [(r.kind, r.status, json.loads(r.detail) if r.detail else None)
                                  for r in s.scalars(select(HaccpRecord).order_by(HaccpRecord.id))])


def _zone(db: Database, comps: dict[int, str | None]) -> None:
    for comp, zone in comps.items():
        db.run_sync(lambda s, c=comp, z=zone: s.execute(update(Compartment).where(Compartment.id == c).values(zone=z)))


def _block(db: Database, comp: int = 2) -> int | None:
    return db.run_sync(lambda s: tr.block(s, comp, "kuehl", 7.0, dict(CAUSE), AT))


# -- blocking -------------------------------------------------------------------------------------------
def test_a_block_holds_the_compartment_and_raises_its_alarm_once(sdb: Database) -> None:
    block_id = _block(sdb)
    assert block_id is not None and _block(sdb) is None  # already blocked: nothing new
    blk = sdb.run_sync(lambda s: s.get_one(ColdChainBlock, block_id))
    assert (blk.compartment_id, blk.state, blk.zone, blk.cause, blk.limit_c, blk.details) == (
        2, "blocked", "kuehl", "temperature", 7.0, CAUSE)
    (subject, severity, state, details), = _alarms(sdb, tr.COMPARTMENT_ALARM)
    assert (subject, severity, state, details) == ("compartment:2", "critical", "raised", {"zone": "kuehl", **CAUSE})
    alarm_id = blk.alarm_id
    assert alarm_id == sdb.run_sync(lambda s: s.scalar(select(Alarm.id).where(Alarm.kind == tr.COMPARTMENT_ALARM)))
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 2)) == "cold_chain:Kühlung gestört"
    assert sdb.run_sync(lambda s: [h.reference for h in owner.holds(s, 2)]) == [f"alarm:{alarm_id}"]
    (kind, payload), = _events(sdb, "coldchain.")
    assert kind == "coldchain.compartment_blocked"
    assert (payload["block_id"], payload["compartment"], payload["zone"], payload["alarm_id"], payload["limit_c"],
            payload["celsius"], payload["state"], payload["reference"]) == (
        block_id, 2, "kuehl", alarm_id, 7.0, 9.5, "blocked", f"alarm:{alarm_id}")
    assert _haccp(sdb) == [("event", "compartment_blocked", {"compartment": 2, "zone": "kuehl", "alarm_id": alarm_id,
                                                             "limit_c": 7.0, **CAUSE})]
    assert sdb.run_sync(lambda s: (tr.sale_blocked(s, 2), tr.sale_blocked(s, 1))) == (True, False)
    assert sdb.run_sync(tr.blocked_compartments) == {2}


def test_a_block_without_a_cause_is_a_temperature_block(sdb: Database) -> None:
    block_id = sdb.run_sync(lambda s: tr.block(s, 2, "kuehl", 7.0, {}, AT))
    assert sdb.run_sync(lambda s: s.get_one(ColdChainBlock, block_id).cause) == "temperature"


def test_an_unknown_compartment_cannot_be_blocked(sdb: Database) -> None:
    with pytest.raises(ColdChainError, match="no compartment 99"):
        sdb.run_sync(lambda s: tr.block(s, 99, "kuehl", 7.0, {}, AT))
    with pytest.raises(ColdChainError, match="no compartment 99"):
        sdb.run_sync(lambda s: tr.compartment_goods(s, 99))


def test_reassert_hold_puts_back_a_missing_hold_only(sdb: Database) -> None:
    block_id = _block(sdb)
    assert sdb.run_sync(lambda s: tr.reassert_hold(s, block_id)) is False
    sdb.run_sync(lambda s: owner.release_hold(s, 2, tr.HOLD, actor="system"))
    assert sdb.run_sync(lambda s: tr.reassert_hold(s, block_id)) is True
    alarm_id = sdb.run_sync(lambda s: s.get_one(ColdChainBlock, block_id).alarm_id)
    assert sdb.run_sync(lambda s: [(h.kind, h.reference, h.reason, h.actor) for h in owner.holds(s, 2)]) == [
        ("cold_chain", f"alarm:{alarm_id}", "Kühlung gestört", "system")]


# -- releasing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", tr.RELEASES)
def test_a_release_lifts_the_hold_and_records_what_was_done(sdb: Database, how: str) -> None:
    block_id = _block(sdb)
    alarm_id = sdb.run_sync(lambda s: s.get_one(ColdChainBlock, block_id).alarm_id)
    payload = sdb.run_sync(lambda s: tr.release(s, 2, how, actor="volunteer:5", at=AT, reason="checked",
                                                measured_c=4.5, reference="task-3", by_name="Anna"))
    discarded = payload.pop("discarded")
    assert payload == {"compartment": 2, "zone": "kuehl", "alarm_id": alarm_id, "action": how, "by": "volunteer:5",
                       "reason": "checked", "measured_c": 4.5, "reference": "task-3",
                       "status": "empty" if how == "discarded" else "loaded", "by_name": "Anna"}
    assert [item["quantity"] for item in discarded] == ([1] if how == "discarded" else [])
    assert compartment(sdb, 2) == (("empty", 0) if how == "discarded" else ("loaded", 1))
    blk = sdb.run_sync(lambda s: s.get_one(ColdChainBlock, block_id))
    assert (blk.state, blk.release, blk.released_by, blk.reason, blk.measured_c) == (
        "released", how, "volunteer:5", "checked", 4.5)
    assert blk.released_at is not None
    assert sdb.run_sync(lambda s: (owner.blocked_reason(s, 2), tr.sale_blocked(s, 2))) == (None, False)
    assert [a[2] for a in _alarms(sdb, tr.COMPARTMENT_ALARM)] == ["cleared"]
    kind, event = _events(sdb, "coldchain.")[-1]
    assert kind == "coldchain.compartment_released"
    assert (event["action"], event["by"], event["by_name"], event["why"], event["from"], event["actor"]) == (
        how, "volunteer:5", "Anna", "checked", "blocked", "volunteer:5")
    audit = sdb.run_sync(lambda s: s.get_one(AuditEntry,
                                             event["audit_id"]))
    assert audit.reason == ("operator_release" if how == "operator_release" else f"corrective_{how}")
    assert _haccp(sdb)[-1][:2] == ("event", "compartment_released")
    assert "by_name" in (_haccp(sdb)[-1][2] or {})


def test_a_release_without_a_name_leaves_it_out(sdb: Database) -> None:
    _block(sdb)
    payload = sdb.run_sync(lambda s: tr.release(s, 2, "kept", actor="operator:ops", at=AT))
    assert "by_name" not in payload and payload["reason"] is None and payload["measured_c"] is None


def test_a_release_needs_a_known_action_and_an_open_block(sdb: Database) -> None:
    with pytest.raises(ColdChainError, match="unknown corrective action 'burnt'"):
        sdb.run_sync(lambda s: tr.release(s, 2, "burnt", actor="operator:ops", at=AT))
    with pytest.raises(ColdChainError, match="compartment 2 is not blocked by the cold chain"):
        sdb.run_sync(lambda s: tr.release(s, 2, "kept", actor="operator:ops", at=AT))
    _block(sdb)
    sdb.run_sync(lambda s: tr.release(s, 2, "kept", actor="operator:ops", at=AT))
    with pytest.raises(ColdChainError):
        sdb.run_sync(lambda s: tr.release(s, 2, "kept", actor="operator:ops", at=AT))
    assert _block(sdb) is not None  # a new block after the release
    assert sdb.run_sync(lambda s: tr.open_block(s, 2).state) == BlockState.BLOCKED


# -- zones ----------------------------------------------------------------------------------------------
def test_a_zone_alarm_is_raised_logged_and_cleared(sdb: Database) -> None:
    alarm_id = sdb.run_sync(lambda s: tr.zone_alarm(s, "kuehl", dict(CAUSE), [], AT))
    assert _alarms(sdb, tr.ZONE_ALARM) == [("zone:kuehl", "critical", "raised", CAUSE)]
    assert sdb.run_sync(tr.open_state) == (set(), {"kuehl"})
    assert _haccp(sdb) == [("event", "zone_excursion", {"zone": "kuehl", "alarm": alarm_id, **CAUSE})]
    sdb.run_sync(lambda s: tr.zone_recovered(s, "kuehl", {"max_c": 5.0}, [], AT))
    assert [a[2] for a in _alarms(sdb, tr.ZONE_ALARM)] == ["cleared"]
    assert sdb.run_sync(tr.open_state) == (set(), set())
    assert _haccp(sdb)[-1] == ("event", "zone_recovered", {"zone": "kuehl", "max_c": 5.0})
    audits = sdb.run_sync(lambda s: [(a.action, a.subject, a.reason) for a in s.scalars(
        select(AuditEntry))])
    assert audits[-2:] == [("coldchain.zone_excursion", "zone:kuehl", "temperature"),
                           ("coldchain.zone_recovered", "zone:kuehl", None)]


def test_open_state_lists_blocked_compartments(sdb: Database) -> None:
    _block(sdb, 2)
    _block(sdb, 18)
    assert sdb.run_sync(tr.open_state) == ({2, 18}, set())


def test_excursion_starts_are_kept_per_zone_and_forgotten_when_none(sdb: Database) -> None:
    sdb.run_sync(lambda s: tr.save_excursion_starts(s, "kuehl", {"zone": 10.0, "2": 12.5}))
    sdb.run_sync(lambda s: tr.save_excursion_starts(s, "tief", {"zone": 20.0}))
    assert sdb.run_sync(tr.excursion_starts) == {"kuehl": {"zone": 10.0, "2": 12.5}, "tief": {"zone": 20.0}}
    sdb.run_sync(lambda s: tr.save_excursion_starts(s, "kuehl", {"2": 13.0}))
    sdb.run_sync(lambda s: tr.save_excursion_starts(s, "tief", {}))
    assert sdb.run_sync(tr.excursion_starts) == {"kuehl": {"2": 13.0}}


# -- what is stocked where ------------------------------------------------------------------------------
def test_stocked_compartments_list_the_goods_classes_of_a_zone(sdb: Database) -> None:
    _zone(sdb, {1: "kuehl", 2: "kuehl", 17: "tief", 18: "kuehl"})
    sdb.run_sync(lambda s: s.execute(update(Product).where(Product.gtin == "4006381333931")
                                     .values(temperature_class="chilled")))
    sdb.run_sync(lambda s: owner.clear_contents(s, 18))
    assert sdb.run_sync(lambda s: tr.stocked_compartments(s, ["kuehl"])) == [
        Stocked(1, "kuehl", frozenset({"chilled"})), Stocked(2, "kuehl", frozenset({"ambient"}))]
    assert sdb.run_sync(lambda s: tr.stocked_compartments(s, ["kuehl", "tief"]))[-1] == Stocked(
        17, "tief", frozenset({"ambient"}))
    assert sdb.run_sync(lambda s: tr.compartment_goods(s, 1)) == ("kuehl", Stocked(1, "kuehl", frozenset({"chilled"})))
    assert sdb.run_sync(lambda s: tr.compartment_goods(s, 18)) == ("kuehl", None)
    _zone(sdb, {2: None})
    assert sdb.run_sync(lambda s: tr.compartment_goods(s, 2)) == (None, None)


def test_the_block_table_is_the_documented_one() -> None:
    from station.flows.docs import render_flow
    from tests.conftest import REPO
    from tests.core.fresh_import import fresh_module

    fresh = fresh_module("station.coldchain.transitions")
    assert render_flow(fresh.BLOCK) in (REPO / "docs" / "architecture.md").read_text()
