"""End-of-day settlement on a real database: the terminal's totals against the booked payments, each
booked payment counted once, unknown charges settled by the one set of amounts that fits, the mismatch
alarm both ways, and the event against its schema."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, OutboxEvent, Payment, Priority, Sale
from station.db.types import utcnow
from station.purchase import flow
from station.purchase.endofday import MAX_UNKNOWN_FOR_SUBSETS, charged_subset, reconcile
from station.purchase.flow import SALE, SaleState, record_payment
from tests.purchase.saledb import (
    BREAD,
    EGGS,
    MILK,
    alarms,
    events,
    new_sale,
    opened,
    walk,
)
from tests.sync.schema_check import errors, rule_for

S = SaleState
MISMATCH = "payment.reconciliation_mismatch"


def _booked(db: Database, comp: int, cents: int) -> str:
    """A sale booked for `cents` and done."""
    sale_id = new_sale(db, [comp])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(db, sale_id, {comp: flow.RELEASED})
    walk(db, sale_id, S.RELEASED, S.BOOK_REQUESTED)
    db.run_sync(lambda s: (flow.set_booked(s, sale_id, cents), record_payment(s, sale_id, "booked",
                                                                               amount_cents=cents)))
    walk(db, sale_id, S.BOOKED, S.DONE)
    return sale_id


def _unknown(db: Database, comp: int, book_cents: int | None) -> str:
    """A sale whose link dropped after 'goods issued' (told to book `book_cents`)."""
    sale_id = new_sale(db, [comp])
    walk(db, sale_id, S.PAYMENT_REQUESTED)
    db.run_sync(lambda s: record_payment(s, sale_id, "authorised"))
    walk(db, sale_id, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(db, sale_id, {comp: flow.RELEASED})
    walk(db, sale_id, S.RELEASED, S.BOOK_REQUESTED)
    details = {} if book_cents is None else {"book_cents": book_cents}
    db.run_sync(lambda s: record_payment(s, sale_id, "unknown", details=details))
    walk(db, sale_id, S.CHARGE_UNKNOWN)
    return sale_id


def _eod_event(db: Database) -> dict[str, Any]:
    (kind, payload), = [(k, p) for k, p in events(db, "terminal.end_of_day")][-1:]
    rule = rule_for(kind)
    assert rule is not None and errors(payload, rule.payload_schema) == []
    return payload


def _sale(db: Database, sale_id: str) -> tuple[SaleState, int]:
    return db.run_sync(lambda s: (SALE.current(s, sale_id), s.get_one(Sale, sale_id).booked_cents))


def test_matching_totals_count_each_booked_payment_once(sdb: Database) -> None:
    _booked(sdb, 1, MILK)
    _booked(sdb, 2, BREAD)
    first = sdb.run_sync(lambda s: reconcile(s, MILK + BREAD, 2))
    assert (first.terminal_cents, first.expected_cents, first.difference_cents) == (MILK + BREAD,) * 2 + (0,)
    assert first.matched and first.booked_payments == 2 and first.unknown_sales == []
    assert first.settled_unknown_as is None and first.charged_sales == []
    payload = _eod_event(sdb)
    assert payload == {"end_of_day_id": payload["end_of_day_id"], **first.as_dict()}
    eod = sdb.run_sync(lambda s: s.get_one(Payment, payload["end_of_day_id"]))
    assert (eod.kind, eod.state, eod.amount_cents, eod.sale_id) == ("end_of_day", "done", MILK + BREAD, None)
    assert eod.details == {"expected_cents": MILK + BREAD, "difference_cents": 0, "count": 2}
    marked = sdb.run_sync(lambda s: [p.details.get("end_of_day") for p in s.scalars(
        select(Payment).where(Payment.kind == "authorisation"))])
    assert marked == [eod.id, eod.id]
    # The next day: the same payments are not expected again.
    _booked(sdb, 18, BREAD)
    second = sdb.run_sync(lambda s: reconcile(s, BREAD, 1))
    assert second.matched and second.expected_cents == BREAD and second.booked_payments == 1
    assert alarms(sdb, MISMATCH) == []
    priorities = sdb.run_sync(lambda s: {e.priority for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.type == "terminal.end_of_day"))})
    assert priorities == {int(Priority.MONEY)}
    audits = sdb.run_sync(lambda s: [(a.action, a.subject, a.details) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.action == "terminal.end_of_day").order_by(AuditEntry.id))])
    assert audits == [("terminal.end_of_day", "terminal", first.as_dict()),
                      ("terminal.end_of_day", "terminal", second.as_dict())]


def test_a_mismatch_raises_a_critical_alarm_naming_the_end_of_day(sdb: Database) -> None:
    _booked(sdb, 1, MILK)
    result = sdb.run_sync(lambda s: reconcile(s, MILK + 250, None))
    assert not result.matched and result.difference_cents == 250 and result.expected_cents == MILK
    eod_id = _eod_event(sdb)["end_of_day_id"]
    assert alarms(sdb, MISMATCH) == [(f"end_of_day:{eod_id}", "raised", "critical")]
    details = sdb.run_sync(lambda s: s.scalars(select(Alarm).where(Alarm.kind == MISMATCH)).one().details)
    assert details == result.as_dict()


def test_payments_not_booked_are_not_expected(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    sdb.run_sync(lambda s: record_payment(s, sale_id, "authorised"))
    result = sdb.run_sync(lambda s: reconcile(s, 0, 0))
    assert result.matched and result.expected_cents == 0 and result.booked_payments == 0


@pytest.mark.parametrize(("terminal", "settled", "charged"), [
    (BREAD + EGGS, "charged", ["a", "b"]),
    (0, "not_charged", []),
    (EGGS, "some_charged", ["b"]),
])
def test_unknown_charges_are_settled_by_the_one_set_that_fits(sdb: Database, terminal: int, settled: str,
                                                              charged: list[str]) -> None:
    ids = {"a": _unknown(sdb, 2, BREAD), "b": _unknown(sdb, 17, None)}  # b: asked amount = card amount
    result = sdb.run_sync(lambda s: reconcile(s, terminal, None))
    assert result.matched and result.settled_unknown_as == settled
    assert sorted(result.unknown_sales) == sorted(ids.values())
    assert result.charged_sales == sorted(ids[k] for k in charged)
    for key, sale_id in ids.items():
        state, booked = _sale(sdb, sale_id)
        amount = BREAD if key == "a" else EGGS
        if key in charged:
            assert (state, booked) == (S.DONE, amount)
            assert sdb.run_sync(lambda s, i=sale_id: (flow.authorisation(s, i).state,
                                                      flow.authorisation(s, i).amount_cents)) == ("booked", amount)
        else:
            assert (state, booked) == (S.RELEASED_NOT_CHARGED, 0)
            assert sdb.run_sync(lambda s, i=sale_id: flow.authorisation(s, i).state) == "not_charged"
    settled_events = [p for k, p in events(sdb, "sale.") if p.get("settled_by") == "end_of_day"]
    assert len(settled_events) == 2
    for payload in settled_events:
        rule = rule_for(f"sale.{payload['state']}")
        assert rule is not None and errors(payload, rule.payload_schema) == []
        if payload["state"] == "released_not_charged":
            assert payload["released"] == [2 if payload["sale_id"] == ids["a"] else 17]
        else:
            assert payload["booked_cents"] == (BREAD if payload["sale_id"] == ids["a"] else EGGS)
    assert alarms(sdb, MISMATCH) == []


def test_unknown_charges_that_no_set_explains_stay_for_an_operator(sdb: Database) -> None:
    sale_id = _unknown(sdb, 2, BREAD)
    result = sdb.run_sync(lambda s: reconcile(s, 100, None))
    assert not result.matched and result.settled_unknown_as is None and result.charged_sales == []
    assert _sale(sdb, sale_id) == (S.CHARGE_UNKNOWN, 0)
    assert len(alarms(sdb, MISMATCH)) == 1


def test_an_unknown_sale_without_payment_row_was_asked_nothing_and_stays_unknown(sdb: Database) -> None:
    sale_id = _unknown(sdb, 2, BREAD)
    sdb.run_sync(lambda s: s.execute(update(Payment).where(Payment.sale_id == sale_id)
                                     .values(kind="refund")))
    result = sdb.run_sync(lambda s: reconcile(s, 0, None))
    # Asked 0: charged or not, the totals read the same, so nothing is settled (and nothing is missing).
    assert result.matched and result.settled_unknown_as is None and result.unknown_sales == [sale_id]
    assert _sale(sdb, sale_id) == (S.CHARGE_UNKNOWN, 0)


def test_charged_subset_at_its_size_limit() -> None:
    at_limit = {f"s{i:02d}": 1 << i for i in range(MAX_UNKNOWN_FOR_SUBSETS)}
    assert charged_subset(at_limit, (1 << 3) + (1 << 15)) == {"s03", "s15"}
    above = {f"s{i:02d}": 100 + i for i in range(MAX_UNKNOWN_FOR_SUBSETS + 1)}
    every = sum(above.values())
    assert charged_subset(above, every) == set(above)  # too many to try: only all or nothing
    assert charged_subset(above, 0) == set()
    assert charged_subset(above, 100) is None
    assert charged_subset({}, 0) == set()
    assert charged_subset({"a": 5}, 5) == {"a"}
    assert charged_subset({"a": 5, "b": 0}, 5) is None  # with or without the zero sale: cannot tell


def test_an_unknown_sale_is_settled_at_what_the_station_told_the_terminal_to_book(sdb: Database) -> None:
    sale_id = _unknown(sdb, 1, 149 + 15)  # one of two bottles released: told to book one
    refund_at = utcnow()
    sdb.run_sync(lambda s: s.add(Payment(sale_id=None, kind="refund", state="booked", amount_cents=999,
                                         created_at=refund_at, updated_at=refund_at)))
    result = sdb.run_sync(lambda s: reconcile(s, 149 + 15, None))
    assert result.matched and result.expected_cents == 0 and result.charged_sales == [sale_id]
    assert _sale(sdb, sale_id) == (S.DONE, 149 + 15)
    assert sdb.run_sync(lambda s: flow.authorisation(s, sale_id).amount_cents) == 149 + 15
    (_, done), = [(k, p) for k, p in events(sdb, "sale.done")]
    assert (done["settled_by"], done["booked_cents"]) == ("end_of_day", 149 + 15)


def test_a_sale_not_charged_at_end_of_day_records_not_charged(sdb: Database) -> None:
    sale_id = _unknown(sdb, 2, BREAD)
    sdb.run_sync(lambda s: reconcile(s, 0, None))
    assert sdb.run_sync(lambda s: flow.authorisation(s, sale_id).state) == "not_charged"
