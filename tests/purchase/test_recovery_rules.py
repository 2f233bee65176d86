"""Purchase recovery per state on a real database: what each interrupted state ends as, what it records,
and that it only asks the terminal (never charges) and never opens a door.

The service around the recovery is a recorder: the terminal's status enquiry and the lock wall's
"doors recovered" wait are counted, the states reported to the screen are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from station.db.engine import Database, StorageUnavailable
from station.db.models import DoorOperation, Payment, Sale
from station.db.types import utcnow
from station.lockwall.doors import DoorState
from station.purchase import flow
from station.purchase.flow import SALE, SaleState, record_payment
from station.purchase.recovery import PurchaseRecovery, asked_to_book, door_outcomes
from tests.purchase.saledb import (
    BREAD,
    alarms,
    compartment,
    events,
    new_sale,
    opened,
    walk,
)

S = SaleState
ALARM = "sale.released_not_charged"


class _Terminal:
    def __init__(self) -> None:
        self.asked = 0

    async def ask(self) -> None:
        self.asked += 1


class _Wall:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def wait_recovered(self, within_s: float) -> None:
        self.waits.append(within_s)


class _Service:
    def __init__(self, db: Database) -> None:
        self.db, self.terminal, self.lockwall = db, _Terminal(), _Wall()
        self.reports: list[tuple[str, SaleState]] = []

    def reported(self, sale_id: str, state: SaleState) -> None:
        self.reports.append((sale_id, state))


@pytest.fixture
async def service(sdb: Database) -> AsyncIterator[_Service]:
    await sdb.call(lambda: None)  # the db thread, for the recovery's async reads and writes
    yield _Service(sdb)
    await sdb.stop()


def _door(db: Database, sale_id: str, comp: int, state: DoorState, attempts: int = 1) -> None:
    now = utcnow()
    db.run_sync(lambda s: s.execute(insert(DoorOperation).values(
        compartment_id=comp, reason="sale", reference=sale_id, state=state.value, attempts=attempts,
        created_at=now, updated_at=now)))


def _state(db: Database, sale_id: str) -> SaleState:
    return db.run_sync(lambda s: SALE.current(s, sale_id))


def _payment(db: Database, sale_id: str) -> tuple[str, dict[str, Any]] | None:
    found = db.run_sync(lambda s: flow.authorisation(s, sale_id))
    return None if found is None else (found.state, found.details)


def _credit(db: Database, sale_id: str, cents: int) -> None:
    db.run_sync(lambda s: setattr(s.get_one(Sale, sale_id), "credit_cents", cents))


# -- reading the doors ----------------------------------------------------------------------------------
def test_door_outcomes_read_every_door_state(sdb: Database) -> None:
    sale_id = new_sale(sdb, [1, 2, 17, 18])
    _door(sdb, sale_id, 1, DoorState.CLOSED)
    _door(sdb, sale_id, 2, DoorState.UNTOUCHED)
    _door(sdb, sale_id, 17, DoorState.FAILED, attempts=2)
    _door(sdb, sale_id, 18, DoorState.FAILED, attempts=0)
    _door(sdb, "another sale", 1, DoorState.MAYBE_OPENED)
    now = utcnow()
    sdb.run_sync(lambda s: s.execute(insert(DoorOperation).values(  # a pick-up with the same reference
        compartment_id=2, reason="pickup", reference=sale_id, state="opened", attempts=1, created_at=now,
        updated_at=now)))
    assert sdb.run_sync(lambda s: door_outcomes(s, sale_id)) == {
        1: flow.RELEASED, 2: flow.NOT_RELEASED, 17: flow.DOOR_FAULT, 18: flow.NOT_RELEASED}


@pytest.mark.parametrize("state", [DoorState.OPENED, DoorState.CLOSED])
def test_a_door_seen_open_stays_released_whatever_a_later_failed_retry_says(sdb: Database,
                                                                           state: DoorState) -> None:
    sale_id = new_sale(sdb, [1])
    _door(sdb, sale_id, 1, state)
    _door(sdb, sale_id, 1, DoorState.FAILED, attempts=2)
    assert sdb.run_sync(lambda s: door_outcomes(s, sale_id)) == {1: flow.RELEASED}


@pytest.mark.parametrize("state", [DoorState.REQUESTED, DoorState.PULSE_SENT, DoorState.NOT_DETECTED,
                                   DoorState.MAYBE_OPENED])
def test_a_door_never_settled_counts_as_maybe_opened(sdb: Database, state: DoorState) -> None:
    sale_id = new_sale(sdb, [1])
    _door(sdb, sale_id, 1, DoorState.UNTOUCHED)
    _door(sdb, sale_id, 1, state, attempts=0)
    assert sdb.run_sync(lambda s: door_outcomes(s, sale_id)) == {1: flow.MAYBE_RELEASED}


def test_asked_to_book_reads_what_the_station_told_the_terminal(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    assert sdb.run_sync(lambda s: asked_to_book(s, sale_id)) is None  # no payment yet
    sdb.run_sync(lambda s: record_payment(s, sale_id, "authorised"))
    assert sdb.run_sync(lambda s: asked_to_book(s, sale_id)) is None  # not told yet
    sdb.run_sync(lambda s: record_payment(s, sale_id, "issued", details={"book_cents": "0"}))
    assert sdb.run_sync(lambda s: asked_to_book(s, sale_id)) == 0


# -- one action per state -------------------------------------------------------------------------------
async def test_created_is_cancelled(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    await PurchaseRecovery(service).on_created(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.CANCELLED and service.reports == [(sale_id, S.CANCELLED)]
    assert _payment(db, sale_id) is None and service.terminal.asked == 0
    (kind, payload), = events(db, "sale.")
    assert (kind, payload["recovered"], payload["why"]) == ("sale.cancelled", True,
                                                            "interrupted before the payment started")
    assert compartment(db, 2) == ("loaded", 1)


async def test_payment_requested_asks_the_terminal_then_aborts(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED)
    await PurchaseRecovery(service).on_payment_requested(sale_id)  # type: ignore[arg-type]
    assert service.terminal.asked == 1
    assert _state(db, sale_id) is S.ABORTED and _payment(db, sale_id) == ("aborted", {})
    assert service.reports == [(sale_id, S.ABORTED)]


async def test_authorised_is_reversed(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED)
    await PurchaseRecovery(service).on_authorised(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.REVERSED and _payment(db, sale_id) == ("reversed", {})
    assert service.terminal.asked == 0 and compartment(db, 2) == ("loaded", 1)


@pytest.mark.parametrize(("door", "attempts", "final", "status"), [
    (DoorState.OPENED, 1, S.RELEASED_NOT_CHARGED, "empty"),
    (DoorState.PULSE_SENT, 1, S.RELEASED_NOT_CHARGED, "needs_check"),
    (DoorState.UNTOUCHED, 0, S.REVERSED, "loaded"),
    (DoorState.FAILED, 2, S.REVERSED, "needs_check"),
])
async def test_release_requested_ends_by_what_the_doors_did(service: _Service, door: DoorState, attempts: int,
                                                            final: SaleState, status: str) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED)
    db.run_sync(lambda s: record_payment(s, sale_id, "authorised"))
    walk(db, sale_id, S.AUTHORISED, S.RELEASE_REQUESTED)
    _door(db, sale_id, 2, door, attempts)
    await PurchaseRecovery(service).on_release_requested(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is final and service.reports == [(sale_id, final)]
    assert _payment(db, sale_id) == ("reversed", {})
    assert compartment(db, 2)[0] == status
    released = [2] if final is S.RELEASED_NOT_CHARGED else []
    assert alarms(db, ALARM) == ([(f"sale:{sale_id}", "raised", "warning")] if released else [])
    assert events(db, "sale.")[-1][1]["released"] == released


async def test_release_requested_on_credit_alone_records_no_card_payment(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.RELEASE_REQUESTED)
    await PurchaseRecovery(service).on_release_requested(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.REVERSED and _payment(db, sale_id) is None


@pytest.mark.parametrize(("credit", "doors", "final"), [
    (BREAD, {2: DoorState.CLOSED}, S.DONE),  # every opening seen, all paid by credit
    (BREAD - 1, {2: DoorState.CLOSED}, S.RELEASED_NOT_CHARGED),  # one cent owed
    (BREAD, {2: DoorState.MAYBE_OPENED}, S.RELEASED_NOT_CHARGED),  # an opening not seen: cannot tell
    (BREAD, {2: DoorState.UNTOUCHED}, S.REVERSED),  # nothing released
])
async def test_release_requested_paid_by_credit(service: _Service, credit: int, doors: dict[int, DoorState],
                                                final: SaleState) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    _credit(db, sale_id, credit)
    walk(db, sale_id, S.RELEASE_REQUESTED)
    for comp, door in doors.items():
        _door(db, sale_id, comp, door)
    await PurchaseRecovery(service).on_release_requested(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is final and service.reports == [(sale_id, final)]
    if final is S.DONE:
        assert [k for k, _ in events(db, "sale.")] == ["sale.done"]
        assert events(db, "sale.")[0][1]["from"] == "released" and alarms(db, ALARM) == []


async def test_released_without_credit_ends_released_not_charged(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [1, 2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(db, sale_id, {1: flow.RELEASED, 2: flow.MAYBE_RELEASED})
    walk(db, sale_id, S.RELEASED)
    await PurchaseRecovery(service).on_released(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.RELEASED_NOT_CHARGED and _payment(db, sale_id) == ("reversed", {})
    payload = events(db, "sale.")[-1][1]
    assert payload["released"] == [1, 2] and payload["recovered"] is True
    assert payload["why"] == "the terminal reversed the approval we could not answer"
    assert alarms(db, ALARM) == [(f"sale:{sale_id}", "raised", "warning")]


@pytest.mark.parametrize("card", [True, False])
async def test_released_paid_by_credit_is_done(service: _Service, card: bool) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    _credit(db, sale_id, BREAD)
    walk(db, sale_id, S.RELEASE_REQUESTED)
    if card:
        db.run_sync(lambda s: record_payment(s, sale_id, "authorised"))
    opened(db, sale_id, {2: flow.RELEASED})
    walk(db, sale_id, S.RELEASED)
    await PurchaseRecovery(service).on_released(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.DONE and alarms(db, ALARM) == []
    assert _payment(db, sale_id) == (("reversed", {}) if card else None)
    assert events(db, "sale.")[-1][1]["why"] == "paid by credit"


async def test_not_released_is_reversed(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED, S.NOT_RELEASED)
    await PurchaseRecovery(service).on_not_released(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.REVERSED and _payment(db, sale_id) == ("reversed", {})


def _at_book_requested(db: Database, book_cents: int | None) -> str:
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(db, sale_id, {2: flow.RELEASED})
    walk(db, sale_id, S.RELEASED, S.BOOK_REQUESTED)
    details = {} if book_cents is None else {"book_cents": book_cents}
    db.run_sync(lambda s: record_payment(s, sale_id, "issued", details=details))
    return sale_id


@pytest.mark.parametrize("book_cents", [BREAD, None])
async def test_book_requested_after_goods_issued_is_charge_unknown(service: _Service, book_cents: int | None) -> None:
    db = service.db
    sale_id = _at_book_requested(db, book_cents)
    await PurchaseRecovery(service).on_book_requested(sale_id)  # type: ignore[arg-type]
    assert service.terminal.asked == 1
    assert _state(db, sale_id) is S.CHARGE_UNKNOWN and _payment(db, sale_id)[0] == "unknown"  # type: ignore[index]
    assert alarms(db, ALARM) == [] and service.reports == [(sale_id, S.CHARGE_UNKNOWN)]


async def test_book_requested_for_nothing_is_booked_as_nothing(service: _Service) -> None:
    db = service.db
    sale_id = _at_book_requested(db, 0)
    await PurchaseRecovery(service).on_book_requested(sale_id)  # type: ignore[arg-type]
    assert service.terminal.asked == 0
    assert _state(db, sale_id) is S.DONE and _payment(db, sale_id)[0] == "reversed"  # type: ignore[index]
    assert service.reports == [(sale_id, S.BOOKED), (sale_id, S.DONE)]
    kinds = [(k, p["from"], p.get("booked_cents")) for k, p in events(db, "sale.")]
    assert kinds[-1] == ("sale.done", "booked", 0)


async def test_booked_is_done(service: _Service) -> None:
    db = service.db
    sale_id = _at_book_requested(db, BREAD)
    walk(db, sale_id, S.BOOKED)
    await PurchaseRecovery(service).on_booked(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.DONE and _payment(db, sale_id)[0] == "issued"  # type: ignore[index]


# -- the terminal reversed instead of booking ----------------------------------------------------------
async def test_terminal_reversed_after_goods_issued_is_released_not_charged(service: _Service) -> None:
    db = service.db
    sale_id = _at_book_requested(db, BREAD)
    await PurchaseRecovery(service).terminal_reversed(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.RELEASED_NOT_CHARGED and _payment(db, sale_id)[0] == "reversed"  # type: ignore[index]
    assert events(db, "sale.")[-1][1]["released"] == [2]


async def test_terminal_reversed_when_told_to_book_nothing_is_done(service: _Service) -> None:
    db = service.db
    sale_id = _at_book_requested(db, 0)
    await PurchaseRecovery(service).terminal_reversed(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.DONE and alarms(db, ALARM) == []


async def test_terminal_reversed_while_released_is_released_not_charged(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    opened(db, sale_id, {2: flow.RELEASED})
    walk(db, sale_id, S.RELEASED)
    await PurchaseRecovery(service).terminal_reversed(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.RELEASED_NOT_CHARGED


async def test_terminal_reversed_elsewhere_settles_by_the_state(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED)
    await PurchaseRecovery(service).terminal_reversed(sale_id)  # type: ignore[arg-type]
    assert _state(db, sale_id) is S.REVERSED


# -- settle and the start-up run ------------------------------------------------------------------------
async def test_settle_runs_the_state_action_once_and_leaves_a_final_sale_alone(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    assert await recovery.settle(sale_id) is S.CANCELLED
    assert await recovery.settle(sale_id) is S.CANCELLED
    assert service.reports == [(sale_id, S.CANCELLED)]


async def test_settle_retries_while_storage_is_unavailable(service: _Service, monkeypatch: pytest.MonkeyPatch) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    real, failures = db.read, [StorageUnavailable("disk I/O error")]

    async def flaky(fn: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(fn)

    monkeypatch.setattr(db, "read", flaky)
    assert await asyncio.wait_for(PurchaseRecovery(service).settle(sale_id), 5) is S.CANCELLED  # type: ignore[arg-type]


async def test_run_settles_every_unfinished_sale_oldest_first(service: _Service) -> None:
    db = service.db
    first, second, ended = new_sale(db, [1]), new_sale(db, [2]), new_sale(db, [18])
    walk(db, second, S.PAYMENT_REQUESTED, S.AUTHORISED)
    walk(db, ended, S.CANCELLED)
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    assert not recovery.done and not recovery.finished.is_set()
    await asyncio.wait_for(recovery.run(), 10)
    assert recovery.done and recovery.finished.is_set() and recovery.pending() == []
    assert service.lockwall.waits == [20.0]  # the doors' own recovery first: their outcome decides
    assert sorted(service.reports) == sorted([(first, S.CANCELLED), (second, S.REVERSED)])
    assert (_state(db, first), _state(db, second), _state(db, ended)) == (S.CANCELLED, S.REVERSED, S.CANCELLED)


async def test_run_with_nothing_unfinished_does_not_wait_for_the_doors(service: _Service) -> None:
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    await asyncio.wait_for(recovery.run(), 5)
    assert recovery.done and service.lockwall.waits == [] and service.reports == []


async def test_run_retries_a_sale_whose_recovery_failed(service: _Service, monkeypatch: pytest.MonkeyPatch) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    real, calls = recovery.on_created, []
    seen_pending: list[list[str]] = []

    async def once_broken(key: str) -> None:
        calls.append(key)
        seen_pending.append(recovery.pending())
        if len(calls) == 1:
            raise RuntimeError("terminal busy")
        await real(key)

    monkeypatch.setattr(recovery, "on_created", once_broken)
    await asyncio.wait_for(recovery.run(), 10)
    assert calls == [sale_id, sale_id] and seen_pending == [[sale_id], [sale_id]]
    assert recovery.pending() == [] and _state(db, sale_id) is S.CANCELLED


async def test_run_retries_while_storage_is_unavailable(service: _Service, monkeypatch: pytest.MonkeyPatch) -> None:
    db = service.db
    real, failures = db.read, [StorageUnavailable("disk I/O error")]

    async def flaky(fn: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(fn)

    monkeypatch.setattr(db, "read", flaky)
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    await asyncio.wait_for(recovery.run(), 5)
    assert recovery.done and failures == []


def test_no_payment_row_is_written_by_reading(sdb: Database) -> None:
    sale_id = new_sale(sdb, [2])
    sdb.run_sync(lambda s: door_outcomes(s, sale_id))
    assert sdb.run_sync(lambda s: list(s.scalars(select(Payment)))) == []


# -- backing off ------------------------------------------------------------------------------------------
def _record_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """asyncio.sleep recorded (and not waited for): the back-off delays the recovery chose."""
    slept: list[float] = []
    real = asyncio.sleep

    async def sleep(delay: float, *args: Any) -> None:
        slept.append(delay)
        await real(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return slept


def _failing_reads(db: Database, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    real, left = db.read, [times]

    async def flaky(fn: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise StorageUnavailable("disk I/O error")
        return await real(fn)

    monkeypatch.setattr(db, "read", flaky)


async def test_run_backs_off_doubling_up_to_five_seconds_while_storage_fails(
        service: _Service, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_reads(service.db, monkeypatch, 7)
    slept = _record_sleeps(monkeypatch)
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    await recovery.run()
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0] and recovery.done


async def test_settle_backs_off_doubling_from_a_tenth_while_storage_fails(
        service: _Service, monkeypatch: pytest.MonkeyPatch) -> None:
    sale_id = new_sale(service.db, [2])
    _failing_reads(service.db, monkeypatch, 7)
    slept = _record_sleeps(monkeypatch)
    assert await PurchaseRecovery(service).settle(sale_id) is S.CANCELLED  # type: ignore[arg-type]
    assert slept == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]


async def test_run_backs_off_between_rounds_of_failed_recoveries(service: _Service,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sale_id = new_sale(service.db, [2])
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    real, calls = recovery.on_created, [0]

    async def broken_six_times(key: str) -> None:
        calls[0] += 1
        if calls[0] <= 6:
            raise RuntimeError("terminal busy")
        await real(key)

    monkeypatch.setattr(recovery, "on_created", broken_six_times)
    slept = _record_sleeps(monkeypatch)
    await recovery.run()
    assert slept == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0] and _state(service.db, sale_id) is S.CANCELLED



# -- what each recovery writes ------------------------------------------------------------------------------
def _audit(db: Database, sale_id: str, action: str) -> dict[str, Any]:
    from station.db.models import AuditEntry

    return db.run_sync(lambda s: s.scalars(select(AuditEntry).where(
        AuditEntry.subject == f"sale:{sale_id}", AuditEntry.action == action)).one().details)


async def test_each_recovered_event_says_recovered_and_why(service: _Service) -> None:
    db = service.db
    asked, approved = new_sale(db, [1]), new_sale(db, [2])
    walk(db, asked, S.PAYMENT_REQUESTED)
    walk(db, approved, S.PAYMENT_REQUESTED, S.AUTHORISED)
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    await recovery.on_payment_requested(asked)
    await recovery.on_authorised(approved)
    whys = {p["sale_id"]: (k, p["recovered"], p["why"]) for k, p in events(db, "sale.") if p.get("recovered")}
    assert whys == {asked: ("sale.aborted", True, "interrupted before approval"),
                    approved: ("sale.reversed", True, "interrupted before any door was pulsed")}


async def test_release_requested_paid_by_credit_records_both_arrows_as_recovered(service: _Service) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    _credit(db, sale_id, BREAD)
    walk(db, sale_id, S.RELEASE_REQUESTED)
    _door(db, sale_id, 2, DoorState.CLOSED)
    await PurchaseRecovery(service).on_release_requested(sale_id)  # type: ignore[arg-type]
    assert _audit(db, sale_id, "sale.released") == {"from": "release_requested", "recovered": True, "released": [2]}
    (_, done), = events(db, "sale.done")
    assert (done["recovered"], done["why"]) == (True, "paid by credit")


@pytest.mark.parametrize("door", [DoorState.OPENED, DoorState.UNTOUCHED])
async def test_release_requested_final_event_is_recovered(service: _Service, door: DoorState) -> None:
    db = service.db
    sale_id = new_sale(db, [2])
    walk(db, sale_id, S.PAYMENT_REQUESTED, S.AUTHORISED, S.RELEASE_REQUESTED)
    _door(db, sale_id, 2, door)
    await PurchaseRecovery(service).on_release_requested(sale_id)  # type: ignore[arg-type]
    assert events(db, "sale.")[-1][1]["recovered"] is True


async def test_booking_nothing_records_zero_and_why(service: _Service) -> None:
    db = service.db
    sale_id = _at_book_requested(db, 0)
    recovery = PurchaseRecovery(service)  # type: ignore[arg-type]
    assert recovery.pending() == []
    await recovery.on_book_requested(sale_id)
    assert _audit(db, sale_id, "sale.booked") == {"from": "book_requested", "booked_cents": 0}
    (_, done), = events(db, "sale.done")
    assert done["why"] == "paid by credit"
