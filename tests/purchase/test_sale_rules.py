"""The sale flow's rules on a real database, without hardware: each arrow's alarm both ways, the money
event against its schema, compartments settled exactly once, one payment row per sale.

These are the purchase flow's own tests for mutation testing (mutation.toml): fast, one arrow per
transaction as the service commits them.
"""

from __future__ import annotations

from collections import deque

import pytest
from sqlalchemy import func, select

from station.compartments import owner
from station.compartments.contents import load as load_compartment
from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, Payment, Sale, SaleLine, Voucher
from station.db.types import utcnow
from station.flows.docs import render_flow
from station.flows.engine import InvalidTransition
from station.purchase import flow
from station.purchase.endofday import reconcile
from station.purchase.flow import SALE, SaleState, record_payment
from tests.conftest import REPO
from tests.core.fresh_import import fresh_module
from tests.purchase.saledb import (
    BREAD,
    EGGS,
    MILK,
    alarms,
    compartment,
    events,
    new_sale,
    opened,
    walk,
)
from tests.sync.schema_check import errors, rule_for

S = SaleState
ALARM = "sale.released_not_charged"
APPROVE = (S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED, S.RELEASED, S.BOOK_REQUESTED, S.BOOKED, S.DONE)


def _path_to(target: SaleState) -> list[SaleState]:
    """The shortest walk of arrows from `created` to `target`."""
    seen: dict[SaleState, list[SaleState]] = {S.CREATED: []}
    todo = deque([S.CREATED])
    while todo:
        here = todo.popleft()
        for arrow in SALE.arrows:
            if arrow.source is here and arrow.target not in seen:
                seen[arrow.target] = [*seen[here], arrow.target]
                todo.append(arrow.target)
    return seen[target]


def _schema_problems(db: Database) -> list[str]:
    problems = []
    for kind, payload in events(db, "sale."):
        rule = rule_for(kind)
        assert rule is not None, kind
        problems += [f"{kind}: {e}" for e in errors(payload, rule.payload_schema)]
        assert payload["state"] == kind.removeprefix("sale.")
    return problems


# -- the alarm: raised exactly on the arrows into released_not_charged --------------------------------
ARROWS = [(a.source, a.target) for a in SALE.arrows if a.source is not None]


@pytest.mark.parametrize(("source", "target"), ARROWS, ids=[f"{a}->{b}" for a, b in ARROWS])
def test_released_not_charged_alarm_is_raised_on_its_arrows_and_no_other(sdb: Database, source: SaleState,
                                                                        target: SaleState) -> None:
    sale_id = new_sale(sdb, [1])
    path = _path_to(source)
    if S.RELEASED in path or source is S.RELEASE_REQUESTED:
        opened(sdb, sale_id, {1: flow.RELEASED})
    walk(sdb, sale_id, *path)
    assert alarms(sdb, ALARM) == []
    walk(sdb, sale_id, target)
    raised = alarms(sdb, ALARM)
    if target is S.RELEASED_NOT_CHARGED:
        assert raised == [(f"sale:{sale_id}", "raised", "warning")]
        details = sdb.run_sync(lambda s: s.scalars(select(Alarm).where(Alarm.kind == ALARM)).one().details)
        assert details["reference"] == sale_id
    else:
        assert raised == []
    assert _schema_problems(sdb) == []


def test_a_whole_sale_raises_no_alarm_and_tells_the_platform_twice(sdb: Database) -> None:
    sale_id = new_sale(sdb, [1])
    opened(sdb, sale_id, {1: flow.RELEASED})
    walk(sdb, sale_id, *APPROVE)
    assert alarms(sdb, ALARM) == []
    assert [kind for kind, _ in events(sdb, "sale.")] == ["sale.authorised", "sale.done"]


# -- the money event ----------------------------------------------------------------------------------
def test_the_done_event_carries_the_sale_its_lines_and_the_payment(sdb: Database) -> None:
    sale_id = new_sale(sdb, [1, 2])
    walk(sdb, sale_id, S.PAYMENT_REQUESTED)
    sdb.run_sync(lambda s: record_payment(s, sale_id, "authorised", receipt_no=17, trace_no=42, terminal_id="52500001"))
    walk(sdb, sale_id, S.AUTHORISED, actor="shopper", receipt_no=17)
    walk(sdb, sale_id, S.RELEASE_REQUESTED)
    opened(sdb, sale_id, {1: flow.RELEASED, 2: flow.DOOR_FAULT})
    walk(sdb, sale_id, S.RELEASED, S.BOOK_REQUESTED)
    sdb.run_sync(lambda s: (flow.set_booked(s, sale_id, MILK), record_payment(s, sale_id, "booked",
                                                                               amount_cents=MILK)))
    walk(sdb, sale_id, S.BOOKED, S.DONE)
    assert _schema_problems(sdb) == []
    (kind, authorised), (_, done) = events(sdb, "sale.")
    assert kind == "sale.authorised"
    assert (authorised["actor"], authorised["receipt_no"], authorised["from"]) == ("shopper", 17, "payment_requested")
    audit_id = done.pop("audit_id")
    assert isinstance(audit_id, int) and audit_id > authorised["audit_id"]
    audit = sdb.run_sync(lambda s: s.get_one(AuditEntry, audit_id))
    assert (audit.action, audit.subject, audit.reason, audit.reference) == ("sale.done", f"sale:{sale_id}", "sale",
                                                                           sale_id)
    milk, bread = done.pop("lines")
    assert done == {
        "sale_id": sale_id, "state": "done", "from": "booked", "actor": "system", "reference": sale_id,
        "total_cents": MILK + BREAD, "booked_cents": MILK, "credit_cents": 0, "card_cents": MILK + BREAD,
        "vouchers": [],
        "payment": {"state": "booked", "receipt_no": 17, "trace_no": 42, "terminal_id": "52500001",
                    "amount_cents": MILK},
    }
    assert milk == {"compartment": 1, "product_id": milk["product_id"], "gtin": "4006381333931", "quantity": 2,
                    "unit_price_cents": 149, "deposit_cents": 15, "vat_rate_bp": 700, "state": "released"}
    assert bread["compartment"] == 2 and bread["gtin"] == "4001234567890" and bread["state"] == "door_fault"
    assert bread["unit_price_cents"] == BREAD and bread["deposit_cents"] == 0 and bread["quantity"] == 1


def test_an_event_before_the_payment_has_no_payment_and_the_creation_writes_no_event(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    walk(sdb, sale_id, S.CANCELLED, why="cancelled before paying")
    (kind, payload), = events(sdb, "sale.")
    assert kind == "sale.cancelled" and payload["payment"] is None and payload["from"] == "created"
    assert payload["why"] == "cancelled before paying" and payload["lines"][0]["state"] == "reserved"
    assert _schema_problems(sdb) == []


# -- settling the compartments ------------------------------------------------------------------------
def test_the_first_final_state_settles_each_compartment_by_what_its_door_did(sdb: Database) -> None:
    sale_id = new_sale(sdb, [1, 2, 18])
    assert [compartment(sdb, c)[0] for c in (1, 2, 18)] == ["reserved"] * 3
    walk(sdb, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(sdb, sale_id, {1: flow.RELEASED, 2: flow.MAYBE_RELEASED})  # 18 not named: not released
    walk(sdb, sale_id, S.RELEASED, S.BOOK_REQUESTED)
    assert [compartment(sdb, c)[0] for c in (1, 2, 18)] == ["reserved"] * 3  # not before the end
    walk(sdb, sale_id, S.BOOKED)
    assert compartment(sdb, 1) == ("reserved", 2)
    walk(sdb, sale_id, S.DONE)
    assert compartment(sdb, 1) == ("empty", 0)
    assert compartment(sdb, 2) == ("needs_check", 1)
    assert compartment(sdb, 18) == ("loaded", 1)
    (_, check), = events(sdb, "compartment.needs_check")
    assert (check["compartment"], check["why"], check["sale_id"]) == (2, "door may have opened unseen", sale_id)


def test_a_door_fault_needs_a_check_and_keeps_the_goods_listed(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    opened(sdb, sale_id, {2: flow.DOOR_FAULT})
    walk(sdb, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED, S.NOT_RELEASED, S.REVERSED)
    assert compartment(sdb, 2) == ("needs_check", 1)
    (_, check), = events(sdb, "compartment.needs_check")
    assert (check["why"], check["sale_id"]) == ("door pulsed, opening not seen", sale_id)


def _restock_and_reserve_again(db: Database, comp: int) -> str:
    """The compartment emptied by a sale is filled again and a second sale reserves it."""
    gtin = "4001234567890"
    db.run_sync(lambda s: (owner.open_for_volunteer(s, comp, "volunteer:1", "restock"),
                           load_compartment(s, comp, gtin, 1, actor="volunteer:1"),
                           owner.contents_recorded(s, comp, "volunteer:1")))
    assert compartment(db, comp) == ("loaded", 1)
    return new_sale(db, [comp])


@pytest.mark.parametrize("terminal_cents", [BREAD, 0], ids=["charged", "not-charged"])
def test_a_charge_unknown_sale_settled_at_end_of_day_does_not_settle_its_compartment_again(
        sdb: Database, terminal_cents: int) -> None:
    first = new_sale(sdb, [2])
    walk(sdb, first, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(sdb, first, {2: flow.RELEASED})
    walk(sdb, first, S.RELEASED, S.BOOK_REQUESTED)
    sdb.run_sync(lambda s: record_payment(s, first, "unknown", details={"book_cents": BREAD}))
    walk(sdb, first, S.CHARGE_UNKNOWN)
    assert compartment(sdb, 2) == ("empty", 0)  # settled at the first final state
    second = _restock_and_reserve_again(sdb, 2)
    result = sdb.run_sync(lambda s: reconcile(s, terminal_cents, 1))
    assert result.matched and result.unknown_sales == [first]
    final = sdb.run_sync(lambda s: SALE.current(s, first))
    assert final is (S.DONE if terminal_cents else S.RELEASED_NOT_CHARGED)
    assert compartment(sdb, 2) == ("reserved", 1)  # the second sale's goods are still there, still its own
    assert sdb.run_sync(lambda s: SALE.current(s, second)) is S.CREATED
    assert _schema_problems(sdb) == []


def test_held_compartments_are_those_of_unfinished_sales(sdb: Database) -> None:
    running, ended = new_sale(sdb, [1, 2]), new_sale(sdb, [18])
    walk(sdb, ended, S.CANCELLED)
    assert sdb.run_sync(flow.held_compartments) == {1, 2}
    walk(sdb, running, S.PAYMENT_REQUESTED, S.AUTHORISED)
    assert sdb.run_sync(flow.held_compartments) == {1, 2}
    walk(sdb, running, S.REVERSED)
    assert sdb.run_sync(flow.held_compartments) == set()


def test_a_final_state_is_never_left_and_an_unknown_arrow_settles_nothing(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    with pytest.raises(InvalidTransition):
        walk(sdb, sale_id, S.DONE)  # created -> done is not an arrow: nothing settled on the way
    assert compartment(sdb, 2) == ("reserved", 1)
    walk(sdb, sale_id, S.CANCELLED)
    assert compartment(sdb, 2) == ("loaded", 1)
    with pytest.raises(InvalidTransition):
        walk(sdb, sale_id, S.PAYMENT_REQUESTED)


# -- what is owed -------------------------------------------------------------------------------------
def test_only_lines_seen_open_are_charged_and_credit_is_taken_first(sdb: Database) -> None:
    sale_id, other = new_sale(sdb, [1, 2, 18]), new_sale(sdb, [17])
    opened(sdb, other, {17: flow.RELEASED})  # another sale's released line is not this one's
    opened(sdb, sale_id, {1: flow.RELEASED, 2: flow.MAYBE_RELEASED, 18: flow.DOOR_FAULT})
    assert sdb.run_sync(lambda s: flow.charge_for(s, sale_id)) == MILK
    assert sdb.run_sync(lambda s: sorted(flow.released_compartments(s, sale_id))) == [1, 2]
    assert sdb.run_sync(lambda s: flow.released_compartments(s, sale_id, maybe=False)) == [1]
    assert sdb.run_sync(lambda s: flow.card_due(s, sale_id)) == MILK
    assert not sdb.run_sync(lambda s: flow.covered_by_credit(s, sale_id))
    for credit, due in ((MILK - 1, 1), (MILK, 0), (MILK + 1, 0)):
        sdb.run_sync(lambda s, credit=credit: setattr(s.get_one(Sale, sale_id), "credit_cents", credit))
        assert sdb.run_sync(lambda s: flow.card_due(s, sale_id)) == due
        assert sdb.run_sync(lambda s: flow.covered_by_credit(s, sale_id)) is (due == 0)
    opened(sdb, sale_id, {})
    assert sdb.run_sync(lambda s: flow.charge_for(s, sale_id)) == 0
    assert not sdb.run_sync(lambda s: flow.covered_by_credit(s, sale_id))  # nothing released: nothing covered
    lines = sdb.run_sync(lambda s: [line.state for line in s.scalars(select(SaleLine).where(SaleLine.sale_id == sale_id)
                                                                      .order_by(SaleLine.id))])
    assert lines == ["not_released"] * 3


# -- the payment row ----------------------------------------------------------------------------------
def test_one_payment_row_per_sale_updated_on_every_answer(sdb: Database) -> None:
    sale_id = new_sale(sdb, [1, 2])
    first = sdb.run_sync(lambda s: record_payment(s, sale_id, "requested").id)
    sdb.run_sync(lambda s: record_payment(s, sale_id, "authorised", receipt_no=9, trace_no=3))
    sdb.run_sync(lambda s: record_payment(s, sale_id, "booked", amount_cents=MILK))
    rows = sdb.run_sync(lambda s: [(p.id, p.kind, p.state, p.amount_cents, p.receipt_no, p.trace_no)
                                   for p in s.scalars(select(Payment))])
    assert rows == [(first, "authorisation", "booked", MILK, 9, 3)]
    other = new_sale(sdb, [18])
    sdb.run_sync(lambda s: record_payment(s, other, "requested"))
    asked = sdb.run_sync(lambda s: (flow.authorisation(s, other).amount_cents, flow.authorisation(s, other).sale_id))
    assert asked == (BREAD, other)  # a new sale gets its own row, asked for its card amount
    assert sdb.run_sync(lambda s: s.scalar(select(func.count()).select_from(Payment))) == 2


def test_the_payment_row_records_when_it_changed(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    before = utcnow()
    sdb.run_sync(lambda s: record_payment(s, sale_id, "requested"))
    created_at, updated_at = sdb.run_sync(lambda s: (flow.authorisation(s, sale_id).created_at,
                                                     flow.authorisation(s, sale_id).updated_at))
    assert before <= created_at == updated_at
    sdb.run_sync(lambda s: record_payment(s, sale_id, "declined", result_code=5))
    payment = sdb.run_sync(lambda s: flow.authorisation(s, sale_id))
    assert payment.updated_at >= updated_at and payment.created_at == created_at
    assert (payment.state, payment.result_code, payment.details) == ("declined", 5, {})


# -- the table and its documentation ------------------------------------------------------------------
def test_the_arrow_table_is_the_documented_one() -> None:
    """Built while the module is imported: a fresh copy shows mutation testing the table itself."""
    fresh = fresh_module("station.purchase.flow")
    architecture = (REPO / "docs" / "architecture.md").read_text()
    assert render_flow(fresh.SALE) in architecture
    money = [a for a in fresh.SALE.arrows if a.event is not None]
    assert {a.priority for a in money} == {flow.Priority.MONEY}
    assert {a.severity for a in fresh.SALE.arrows} == {"warning"}
    assert all(a.audit and a.clears is None for a in fresh.SALE.arrows)
    assert [a.target for a in fresh.SALE.arrows if a.alarm] == [S.RELEASED_NOT_CHARGED] * 4


def test_eggs_price_is_what_the_catalogue_says(sdb: Database) -> None:
    sale_id = new_sale(sdb, [17])
    assert sdb.run_sync(lambda s: s.get_one(Sale, sale_id).total_cents) == EGGS


def test_the_authorisation_is_the_newest_authorisation_row_of_the_sale(sdb: Database) -> None:
    sale_id, other = new_sale(sdb, [2]), new_sale(sdb, [18])
    now = utcnow()
    sdb.run_sync(lambda s: s.add_all([
        Payment(sale_id=sale_id, kind="authorisation", state="old", amount_cents=1, created_at=now, updated_at=now),
        Payment(sale_id=sale_id, kind="authorisation", state="new", amount_cents=2, created_at=now, updated_at=now),
        Payment(sale_id=sale_id, kind="refund", state="refund", amount_cents=3, created_at=now, updated_at=now),
        Payment(sale_id=other, kind="authorisation", state="other", amount_cents=4, created_at=now, updated_at=now),
    ]))
    assert sdb.run_sync(lambda s: flow.authorisation(s, sale_id).state) == "new"
    sdb.run_sync(lambda s: record_payment(s, sale_id, "booked"))
    states = sdb.run_sync(lambda s: [p.state for p in s.scalars(select(Payment).order_by(Payment.id))])
    assert states == ["old", "booked", "refund", "other"]


# -- vouchers -----------------------------------------------------------------------------------------
def _voucher(db: Database, cents: int) -> str:
    from station.vouchers.ledger import issue

    return db.run_sync(lambda s: issue(s, cents, prefix=29, origin="return", medium="paper").code)


def test_a_sale_with_goods_redeems_its_voucher_and_leaves_change(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2], codes=[_voucher(sdb, 500)])
    assert sdb.run_sync(lambda s: (s.get_one(Sale, sale_id).credit_cents, s.get_one(Sale, sale_id).card_cents)) == (
        500, 0)
    walk(sdb, sale_id, S.RELEASE_REQUESTED)
    opened(sdb, sale_id, {2: flow.RELEASED})
    walk(sdb, sale_id, S.RELEASED, S.DONE)
    vouchers = sdb.run_sync(lambda s: [(v.amount_cents, v.state, v.origin, v.redeemed_by)
                                       for v in s.scalars(select(Voucher).order_by(Voucher.issued_at, Voucher.id))])
    assert sorted(vouchers, key=lambda v: v[0]) == [(80, "issued", "change", None),
                                                    (500, "redeemed", "return", sale_id)]
    (_, done), = events(sdb, "sale.done")
    assert [(v["amount_cents"], v["state"]) for v in done["vouchers"]] == [(500, "redeemed")]
    assert set(done["vouchers"][0]) == {"voucher_id", "amount_cents", "state"}
    assert _schema_problems(sdb) == []


def test_a_sale_without_goods_gives_its_voucher_back(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2], codes=[_voucher(sdb, 300)])
    assert sdb.run_sync(lambda s: (s.get_one(Sale, sale_id).credit_cents, s.get_one(Sale, sale_id).card_cents)) == (
        300, BREAD - 300)
    walk(sdb, sale_id, S.PAYMENT_REQUESTED)
    walk(sdb, sale_id, S.DECLINED)
    vouchers = sdb.run_sync(lambda s: [(v.amount_cents, v.state, v.sale_id) for v in s.scalars(select(Voucher))])
    assert vouchers == [(300, "issued", None)]
    (_, declined), = events(sdb, "sale.declined")
    assert declined["vouchers"] == [] and declined["credit_cents"] == 300


def test_insert_line_writes_one_sale_line(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    product = sdb.run_sync(lambda s: s.scalars(select(SaleLine.product_id)).first())
    values = {"sale_id": sale_id, "compartment_id": 18, "product_id": product, "quantity": 3, "unit_price_cents": 7,
              "deposit_cents": 1, "vat_rate_bp": 1900, "gtin": "12345670", "state": "reserved"}
    sdb.run_sync(lambda s: flow.insert_line(s, values))
    line = sdb.run_sync(lambda s: s.scalars(select(SaleLine).where(SaleLine.compartment_id == 18)).one())
    assert {k: getattr(line, k) for k in values} == values


# -- arrows taken in the same transaction as the one before (PurchaseService.commit `then`) ---------
def test_the_following_arrows_move_the_sale_and_book_what_was_released(sdb: Database) -> None:
    sale_id = new_sale(sdb, [1, 2])
    walk(sdb, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED)
    assert sdb.run_sync(lambda s: flow.release_requested(s, sale_id)) is S.RELEASE_REQUESTED
    assert sdb.run_sync(lambda s: SALE.current(s, sale_id)) is S.RELEASE_REQUESTED

    def released_then_booked(session: object) -> SaleState:
        flow.mark_lines(session, sale_id, {1: flow.RELEASED, 2: flow.DOOR_FAULT})  # type: ignore[arg-type]
        flow.move(session, sale_id, S.RELEASED)  # type: ignore[arg-type]
        return flow.book_requested(session, sale_id)  # type: ignore[arg-type]

    assert sdb.run_sync(released_then_booked) is S.BOOK_REQUESTED
    payment = sdb.run_sync(lambda s: flow.authorisation(s, sale_id))
    assert (payment.state, payment.details) == ("book_requested", {"book_cents": MILK})  # compartment 2 stayed shut
    audits = sdb.run_sync(lambda s: [a.details for a in s.scalars(
        select(AuditEntry).where(AuditEntry.action == "sale.book_requested"))])
    assert audits and audits[-1]["book_cents"] == MILK
    walk(sdb, sale_id, S.BOOKED)
    assert sdb.run_sync(lambda s: flow.done(s, sale_id)) is S.DONE
    assert sdb.run_sync(lambda s: SALE.current(s, sale_id)) is S.DONE
    assert compartment(sdb, 1)[0] == "empty"  # the final state settled the compartments
