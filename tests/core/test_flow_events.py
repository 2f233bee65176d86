"""Every arrow of every flow that sends an event sends a payload its schema accepts, with the arrow's
own state, source and actor: a payload that is None, has a key renamed or misses one fails here.

The arrow tables are built while their modules are imported; `test_every_flow_table_is_the_documented_one`
executes each flow's module again (tests/core/fresh_import.py) so mutation testing sees the tables too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from station.db import migrate
from station.db.engine import Database
from station.db.models import OutboxEvent
from station.flows.docs import render_flow
from station.flows.engine import transition
from station.flows.registry import all_flows
from tests.conftest import REPO
from tests.core.fresh_import import fresh_module
from tests.core.test_flows import _row
from tests.sync.schema_check import errors, rule_for

FLOWS = {flow.name: flow for flow in all_flows()}
# The sale's events need sale lines (tests/purchase/test_sale_rules.py checks them on real sales); a
# cold-chain release carries the corrective action its caller passes (tests/coldchain/test_corrective.py).
ELSEWHERE = {"sale", "coldchain_block"}
CASES = [(name, arrow) for name, flow in FLOWS.items() for arrow in flow.arrows
         if arrow.source is not None and arrow.event is not None and name not in ELSEWHERE]


@pytest.fixture(scope="module")
def events_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path = tmp_path_factory.mktemp("flow-events") / "station.db"
    migrate.upgrade(path)
    database = Database(path)
    database.open_sync()
    yield database
    database.close_sync()


@pytest.mark.parametrize(("name", "arrow"), CASES, ids=[f"{n}:{a.source}->{a.target}" for n, a in CASES])
def test_each_event_of_each_arrow_matches_its_schema(events_db: Database, name: str, arrow: Any) -> None:
    flow, db = FLOWS[name], events_db
    key = db.run_sync(lambda s: _row(s, flow, arrow.source))
    before = db.run_sync(lambda s: s.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0)
    db.run_sync(lambda s: transition(s, flow, key, arrow.target, actor="operator:ops", reference="ref-9",
                                     why="a test"))
    sent = db.run_sync(lambda s: [(e.type, e.priority, e.payload) for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.id > before, OutboxEvent.type == arrow.event))])
    assert len(sent) == 1
    kind, priority, payload = sent[0]
    rule = rule_for(kind)
    assert rule is not None, kind
    assert errors(payload, rule.payload_schema) == [], payload
    assert priority == int(arrow.priority)
    assert (payload["state"], payload["from"], payload["actor"], payload["why"]) == (
        arrow.target.value, arrow.source.value, "operator:ops", "a test")
    row = db.run_sync(lambda s: s.execute(select(flow.table).where(flow.table.c[flow.key] == key)).one()._mapping)
    for column in ("code", "serial", "amount_cents", "origin", "medium", "total_cents", "count", "receipt_id",
                   "attempts", "external_id", "kind", "compartment_id", "purpose"):
        if column in payload and column in row:
            assert payload[column] == row[column], column


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_flow_table_is_the_documented_one(name: str) -> None:
    module = sys.modules[FLOWS[name].states.__module__]
    fresh = fresh_module(module.__name__)
    flow = next(v for v in vars(fresh).values() if getattr(v, "name", None) == name and hasattr(v, "arrows"))
    assert render_flow(flow) in (REPO / "docs" / "architecture.md").read_text()
    original = FLOWS[name]
    assert [(a.priority, a.severity, a.audit) for a in flow.arrows] == [
        (a.priority, a.severity, a.audit) for a in original.arrows]
    assert Path(module.__file__ or "").exists()


def test_the_return_event_lists_its_items_and_only_its_own_vouchers(events_db: Database) -> None:
    from station.db.models import DepositReturn
    from station.deposit.flow import RETURN, ReturnState
    from station.vouchers.ledger import issue

    db = events_db
    key = db.run_sync(lambda s: _row(s, RETURN, ReturnState.CHOOSING))
    other = db.run_sync(lambda s: _row(s, RETURN, ReturnState.CHOOSING))
    items = {"4001": {"kind": "single_use", "label": "PET 0,25 €", "count": 3, "deposit_cents": 25},
             "4002": {"kind": "crate", "label": "Kasten", "count": 1, "deposit_cents": 150}}

    def fill(session: Any) -> list[tuple[str, str, int, str]]:
        session.get_one(DepositReturn, key).items = items
        session.get_one(DepositReturn, key).total_cents = 225
        mine = [issue(session, cents, prefix=29, origin="return", medium=medium, issued_for=key)
                for cents, medium in ((200, "paper"), (25, "credit"))]
        issue(session, 99, prefix=29, origin="return", medium="paper", issued_for=other)
        return [(v.id, v.code, v.amount_cents, v.medium) for v in mine]

    vouchers = db.run_sync(fill)
    before = db.run_sync(lambda s: s.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0)
    db.run_sync(lambda s: transition(s, RETURN, key, ReturnState.VOUCHER, choice="voucher"))
    sent = db.run_sync(lambda s: [e.payload for e in s.scalars(select(OutboxEvent).where(
        OutboxEvent.id > before, OutboxEvent.type == "deposit_return.voucher"))])
    assert len(sent) == 1
    payload = sent[0]
    rule = rule_for("deposit_return.voucher")
    assert rule is not None and errors(payload, rule.payload_schema) == []
    assert payload["items"] == list(items.values()) and payload["total_cents"] == 225
    assert payload["vouchers"] == [{"voucher_id": i, "code": c, "amount_cents": a, "medium": m}
                                   for i, c, a, m in vouchers]
