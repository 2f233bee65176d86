"""App payment (station/purchase/apppay.py) on a real database, without hardware or platform: the signed
request, every check of a confirmation (and the refund each refusal asks for), the age flag, and what
the doors released booked while the rest is asked back.

These are the module's own tests for mutation testing (mutation.toml): the in-process runs against the
lock simulator stay in tests/purchase/test_apppay.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select, update

from station.db.engine import Database
from station.db.models import AppRefund, AuditEntry, Sale
from station.db.types import utcnow
from station.flows.engine import InvalidTransition
from station.purchase import apppay, refunds
from station.purchase.apppay import AppPayments, Confirmation, Verdict
from station.purchase.apprequest import PAYMENT_REQUEST, RequestSigner, payment_request_body, verify_envelope
from station.purchase.cart import create_sale
from station.purchase.flow import NOT_RELEASED, RELEASED, SALE, SaleState, move
from tests.purchase.saledb import BREAD, MILK, events

S = SaleState
STATION = "test-station"
SIGNER = RequestSigner(bytes(range(32)))
BEER = 189 + 8  # compartment 3, from 16


def _app(signer: RequestSigner | None = SIGNER, **kwargs: Any) -> AppPayments:
    return AppPayments(cast(Any, None), signer, STATION, **kwargs)  # the service is used only by the async steps


def _sale(db: Database, compartments: list[int], *, ttl_s: float = 180.0) -> str:
    sale_id = f"sale-{len(db.run_sync(lambda s: list(s.scalars(select(Sale.id)))))}"
    expires = utcnow() + timedelta(seconds=ttl_s)
    db.run_sync(lambda s: create_sale(s, sale_id, compartments, [], pay_with="app", expires=expires, app_ok=True))
    return sale_id


def _confirm(db: Database, sale_id: str, amount: int, *, payment_id: str = "pay-1", station: str = STATION,
             age: int | None = None) -> Verdict:
    c = Confirmation(payment_id, sale_id, station, amount, age)
    return db.run_sync(lambda s: _app().confirm_in(s, c, "operator:platform"))


def _sale_row(db: Database, sale_id: str) -> dict[str, Any]:
    return db.run_sync(lambda s: {c: getattr(o, c) for o in [s.get_one(Sale, sale_id)] for c in (
        "state", "app_payment_id", "paid_by", "age_proof", "booked_cents", "card_cents")})


def _refunds(db: Database) -> list[tuple[str, str, str, int, str]]:
    return db.run_sync(lambda s: [(r.id, r.payment_id, r.sale_id, r.amount_cents, r.reason) for r in s.scalars(
        select(AppRefund).order_by(AppRefund.created_at))])


def _audit(db: Database, action: str) -> list[tuple[str, dict[str, Any]]]:
    """(actor, details) of each audit row of `action`; every one names its sale (subject and reference)."""
    rows = db.run_sync(lambda s: [(a.subject, a.reference) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.action == action))])
    assert all(subject.startswith("sale:sale-") and reference for subject, reference in rows) or \
        action.startswith("app_refund"), rows
    return db.run_sync(lambda s: [(a.actor, dict(a.details)) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))])


# -- the request --------------------------------------------------------------------------------------
def test_the_app_is_offered_only_with_a_key_and_an_uplink() -> None:
    assert _app().available() is False  # no uplink told
    assert _app(uplink=lambda: True).available() is True
    assert _app(uplink=lambda: False).available() is False
    assert _app(None, uplink=lambda: True).available() is False
    assert apppay.REQUEST_TTL_S == 180.0 and _app().request_ttl_s == 180.0


def test_a_request_lives_its_configured_time() -> None:
    before = utcnow()
    expiry = _app(request_ttl_s=60.0).expiry()
    assert before + timedelta(seconds=60) <= expiry <= utcnow() + timedelta(seconds=60)


def test_the_payment_request_is_signed_and_made_from_the_row(sdb: Database) -> None:
    sale_id = _sale(sdb, [1, 3])
    envelope = sdb.run_sync(lambda s: _app().request_in(s, sale_id))
    assert envelope is not None and envelope["schema"] == PAYMENT_REQUEST
    assert sdb.run_sync(lambda s: _app().request_in(s, sale_id)) == envelope  # the same every time it is shown
    created, expires = sdb.run_sync(lambda s: (lambda r: (r.created_at, r.app_expires_at))(s.get_one(Sale, sale_id)))
    assert verify_envelope(SIGNER.public_key(), envelope) == payment_request_body(
        STATION, sale_id, MILK + BEER, 16, created, expires)


def test_no_request_without_a_key_an_app_sale_or_a_sale(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    assert sdb.run_sync(lambda s: _app(None).request_in(s, sale_id)) is None
    assert sdb.run_sync(lambda s: _app().request_in(s, "no-such-sale")) is None
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(app_expires_at=None)))
    assert sdb.run_sync(lambda s: _app().request_in(s, sale_id)) is None


# -- the confirmation ------------------------------------------------------------------------------------
def test_a_confirmation_for_this_sale_and_amount_in_time_pays_it(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    assert _confirm(sdb, sale_id, MILK) == Verdict(True, sale_state=S.APP_PAID)
    row = _sale_row(sdb, sale_id)
    assert (row["state"], row["app_payment_id"], row["paid_by"], row["age_proof"]) == ("app_paid", "pay-1", "app", None)
    [(actor, details)] = _audit(sdb, "sale.app_paid")
    assert (actor, details["payment_id"], details["paid_by"], details["amount_cents"]) == (
        "operator:platform", "pay-1", "app", MILK)
    assert _refunds(sdb) == [] and _audit(sdb, "age_check.passed") == []


def test_a_replayed_confirmation_is_refused_without_a_refund(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    _confirm(sdb, sale_id, MILK)
    assert _confirm(sdb, sale_id, MILK) == Verdict(False, "already_used", sale_state="app_paid")
    other = _sale(sdb, [2])
    assert _confirm(sdb, other, BREAD) == Verdict(False, "already_used")  # that payment paid another sale
    assert _sale_row(sdb, other)["state"] == "app_requested" and _refunds(sdb) == []


def _refused(db: Database, sale_id: str, amount: int, reason: str, sale_state: str | None, **kwargs: Any) -> None:
    verdict = _confirm(db, sale_id, amount, **kwargs)
    [(refund_id, payment_id, refund_sale, cents, why)] = _refunds(db)
    assert verdict == Verdict(False, reason, refund_id, sale_state)
    assert (payment_id, refund_sale, cents, why) == (kwargs.get("payment_id", "pay-1"), sale_id, amount, reason)
    assert [p["reason"] for _, p in events(db, "app.refund_requested")] == [reason]
    [payload] = [p for _, p in events(db, "app.refund_requested")]
    assert verify_envelope(SIGNER.public_key(), payload["request"])["station_id"] == STATION
    if reason != refunds.NO_AGE_PROOF:
        assert _audit(db, "age_check.refused") == []
    assert _audit(db, "app_refund.requested")[0][0] == "operator:platform"


def test_a_confirmation_for_another_station_is_asked_back(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    _refused(sdb, sale_id, MILK, refunds.WRONG_STATION, "app_requested", station="other-station")
    assert _sale_row(sdb, sale_id)["app_payment_id"] is None


def test_a_confirmation_for_an_unknown_sale_is_asked_back(sdb: Database) -> None:
    _refused(sdb, "no-such-sale", 500, refunds.UNKNOWN_SALE, None)


def test_a_confirmation_for_a_sale_not_waiting_is_asked_back(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    sdb.run_sync(lambda s: move(s, sale_id, S.CANCELLED, actor="shopper"))
    _refused(sdb, sale_id, MILK, refunds.NOT_WAITING, "cancelled")


def test_a_confirmation_for_an_expired_sale_is_late(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    sdb.run_sync(lambda s: move(s, sale_id, S.EXPIRED))
    _refused(sdb, sale_id, MILK, refunds.LATE, "expired")
    assert len(_audit(sdb, "sale.expired")) == 1  # it was expired already


def test_a_confirmation_past_the_expiry_expires_the_sale_and_is_asked_back(sdb: Database) -> None:
    sale_id = _sale(sdb, [1], ttl_s=-1)
    _refused(sdb, sale_id, MILK, refunds.LATE, "expired")
    [(actor, details)] = _audit(sdb, "sale.expired")
    assert (actor, details["why"]) == ("operator:platform", "confirmation after the expiry")


def test_a_confirmation_just_before_the_expiry_pays(sdb: Database) -> None:
    sale_id = _sale(sdb, [1], ttl_s=5)
    assert _confirm(sdb, sale_id, MILK).accepted


def test_a_waiting_sale_without_an_expiry_is_late(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(app_expires_at=None)))
    _refused(sdb, sale_id, MILK, refunds.LATE, "expired")


@pytest.mark.parametrize("amount", [MILK - 1, MILK + 1])
def test_a_confirmation_of_another_amount_is_asked_back(sdb: Database, amount: int) -> None:
    sale_id = _sale(sdb, [1])
    _refused(sdb, sale_id, amount, refunds.WRONG_AMOUNT, "app_requested")


@pytest.mark.parametrize("age", [None, 15])
def test_beer_needs_the_apps_age_flag(sdb: Database, age: int | None) -> None:
    sale_id = _sale(sdb, [3])
    _refused(sdb, sale_id, BEER, refunds.NO_AGE_PROOF, "app_requested", age=age)
    [(actor, details)] = _audit(sdb, "age_check.refused")
    assert (actor, details) == ("shopper", {"required_age": 16, "method": "app", "proof": None if age is None else
                                            "app", "verified_age": age, "why": "confirmation without age"})
    assert _sale_row(sdb, sale_id)["age_proof"] is None


@pytest.mark.parametrize("age", [16, 18])
def test_beer_paid_by_an_app_verified_adult(sdb: Database, age: int) -> None:
    sale_id = _sale(sdb, [3])
    assert _confirm(sdb, sale_id, BEER, age=age).accepted
    assert _sale_row(sdb, sale_id)["age_proof"] == "app"
    [(actor, details)] = _audit(sdb, "age_check.passed")
    assert (actor, details) == ("shopper", {"required_age": 16, "method": "app", "proof": "app", "verified_age": age})


def test_an_age_of_one_needs_the_flag_too(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(min_age=1)))
    _refused(sdb, sale_id, MILK, refunds.NO_AGE_PROOF, "app_requested")


def test_a_confirmation_at_the_very_instant_of_expiry_still_pays(sdb: Database,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sale_id = _sale(sdb, [1])
    expires = sdb.run_sync(lambda s: s.get_one(Sale, sale_id).app_expires_at)
    monkeypatch.setattr(apppay, "utcnow", lambda: expires)
    assert _confirm(sdb, sale_id, MILK).accepted


def test_an_age_already_proven_needs_no_flag(sdb: Database) -> None:
    sale_id = _sale(sdb, [3])
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(age_proof="card")))
    assert _confirm(sdb, sale_id, BEER).accepted
    assert _sale_row(sdb, sale_id)["age_proof"] == "card" and _audit(sdb, "age_check.passed") == []


def test_a_refused_payment_confirmed_again_names_its_one_refund(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    first = _confirm(sdb, sale_id, MILK - 1)
    again = _confirm(sdb, sale_id, MILK - 1)
    assert again == first and first.refund_id is not None and len(_refunds(sdb)) == 1


# -- releasing ---------------------------------------------------------------------------------------------
def _paid(db: Database, compartments: list[int], amount: int) -> str:
    sale_id = _sale(db, compartments)
    assert _confirm(db, sale_id, amount).accepted
    return sale_id


def _settle(db: Database, sale_id: str, outcomes: dict[int, str]) -> SaleState:
    db.run_sync(lambda s: move(s, sale_id, S.APP_RELEASE_REQUESTED))
    return db.run_sync(lambda s: _app().settle_in(s, sale_id, outcomes, via="test"))


def test_every_door_opened_books_everything(sdb: Database) -> None:
    sale_id = _paid(sdb, [1, 2], MILK + BREAD)
    assert _settle(sdb, sale_id, {1: RELEASED, 2: RELEASED}) is S.DONE
    assert _sale_row(sdb, sale_id)["booked_cents"] == MILK + BREAD and _refunds(sdb) == []
    [(_, details)] = _audit(sdb, "sale.done")
    assert (details["released"], details["booked_cents"], details["refund_cents"], details["paid_by"],
            details["via"]) == ([1, 2], MILK + BREAD, 0, "app", "test")


def test_a_door_that_stayed_shut_is_asked_back(sdb: Database) -> None:
    sale_id = _paid(sdb, [1, 2], MILK + BREAD)
    assert _settle(sdb, sale_id, {2: RELEASED, 1: NOT_RELEASED}) is S.DONE
    assert _sale_row(sdb, sale_id)["booked_cents"] == BREAD
    assert [r[1:] for r in _refunds(sdb)] == [("pay-1", sale_id, MILK, refunds.NOT_RELEASED)]
    [(actor, details)] = _audit(sdb, "sale.done")
    assert (actor, details["released"], details["booked_cents"], details["refund_cents"]) == (
        "system", [2], BREAD, MILK)


def test_no_door_opened_asks_everything_back(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    assert _settle(sdb, sale_id, {}) is S.REFUND_REQUESTED
    assert _sale_row(sdb, sale_id)["booked_cents"] == 0
    assert [r[1:] for r in _refunds(sdb)] == [("pay-1", sale_id, MILK, refunds.NOT_RELEASED)]
    [(_, details)] = _audit(sdb, "sale.refund_requested")
    assert (details["released"], details["refund_cents"], details["paid_by"]) == ([], MILK, "app")


def test_a_sale_paid_and_interrupted_before_any_door_is_asked_back_in_full(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    assert sdb.run_sync(lambda s: _app().settle_paid_in(s, sale_id, why="restart")) is S.REFUND_REQUESTED
    assert _sale_row(sdb, sale_id)["state"] == "refund_requested"
    assert [r[1:] for r in _refunds(sdb)] == [("pay-1", sale_id, MILK, refunds.NOT_RELEASED)]
    [(actor, details)] = _audit(sdb, "sale.refund_requested")
    assert (actor, details["refund_cents"], details["paid_by"], details["recovered"], details["why"]) == (
        "system", MILK, "app", True, "restart")


def test_nothing_is_asked_back_for_a_sale_without_an_app_payment(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(app_payment_id=None)))
    assert sdb.run_sync(lambda s: _app().settle_paid_in(s, sale_id)) is S.REFUND_REQUESTED
    other = _paid(sdb, [2], BREAD)
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == other).values(app_payment_id=None)))
    assert _settle(sdb, other, {}) is S.REFUND_REQUESTED
    assert _refunds(sdb) == []


def test_nothing_is_asked_back_when_nothing_was_charged(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(card_cents=0)))
    sdb.run_sync(lambda s: _app().settle_paid_in(s, sale_id))
    assert _refunds(sdb) == []


def _refund_bodies(db: Database) -> list[dict[str, Any]]:
    return [verify_envelope(SIGNER.public_key(), p["request"]) for _, p in events(db, "app.refund_requested")]


def test_one_cent_not_released_is_asked_back(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(card_cents=MILK + 1)))
    assert _settle(sdb, sale_id, {1: RELEASED}) is S.DONE
    assert [(b["amount_cents"], b["station_id"]) for b in _refund_bodies(sdb)] == [(1, STATION)]


def test_one_cent_paid_and_interrupted_is_asked_back(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(card_cents=1)))
    sdb.run_sync(lambda s: _app().settle_paid_in(s, sale_id))
    assert [(b["amount_cents"], b["station_id"]) for b in _refund_bodies(sdb)] == [(1, STATION)]


# -- the asynchronous steps, with the purchase service's side replaced by a recorder ------------------------
class _Service:
    """The parts of the purchase service AppPayments calls, on the real database (no doors, no screen)."""

    def __init__(self, db: Database, outcomes: dict[int, str] | None = None) -> None:
        self.db, self.sync = self, db
        self.board = self.recovery = self.doors = self
        self.outcomes = outcomes or {}
        self.log: list[tuple[Any, ...]] = []

    async def read(self, fn: Any) -> Any:
        return self.sync.run_sync(fn)

    async def write(self, fn: Any) -> Any:
        return self.sync.run_sync(fn)

    async def write_until_committed(self, fn: Any, *, what: str) -> Any:
        self.log.append(("until_committed", what))
        return self.sync.run_sync(fn)

    async def commit(self, sale_id: str, state: SaleState, *, expect: set[SaleState] | None = None,
                      until_committed: bool = False, **details: Any) -> None:
        def write(session: Any) -> None:
            if expect is not None and SALE.current(session, sale_id) not in expect:
                raise InvalidTransition(f"sale {sale_id} is not {sorted(expect)}")
            move(session, sale_id, state, **details)

        self.sync.run_sync(write)
        self.log.append(("commit", state, until_committed))
        self.reported(sale_id, state)

    def reported(self, sale_id: str, state: SaleState) -> None:
        self.log.append(("reported", sale_id, state))

    def _spawn(self, coro: Any, name: str) -> None:
        coro.close()  # the release is tested on its own
        self.log.append(("spawned", name))

    def say(self, sale_id: str, text: str) -> None:
        self.log.append(("said", text))

    async def pulse(self, sale_id: str, compartments: list[int]) -> dict[int, str]:
        self.log.append(("pulsed", compartments))
        return {c: v for c, v in self.outcomes.items() if c in compartments}

    async def settle(self, sale_id: str) -> None:
        self.log.append(("recovery", sale_id))


def _with(service: _Service) -> AppPayments:
    return AppPayments(cast(Any, service), SIGNER, STATION)


async def test_a_request_past_its_lifetime_expires_the_sale_at_once(sdb: Database) -> None:
    sale_id = _sale(sdb, [1], ttl_s=-5)
    service = _Service(sdb)
    started = utcnow()
    await _with(service).wait_then_expire(sale_id)
    assert utcnow() - started < timedelta(seconds=0.9)  # no waiting for a time already past
    assert _sale_row(sdb, sale_id)["state"] == "expired"
    assert service.log == [("commit", S.EXPIRED, True), ("reported", sale_id, S.EXPIRED)]
    [(actor, details)] = _audit(sdb, "sale.expired")
    assert (actor, details["why"]) == ("system", "no confirmation in time")


async def test_a_request_without_an_expiry_expires_without_waiting(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(app_expires_at=None)))
    await _with(_Service(sdb)).wait_then_expire(sale_id)
    assert _sale_row(sdb, sale_id)["state"] == "expired"


async def test_a_sale_confirmed_before_its_expiry_is_left_alone(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    sdb.run_sync(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(
        app_expires_at=utcnow() - timedelta(seconds=5))))
    service = _Service(sdb)
    await _with(service).wait_then_expire(sale_id)
    assert _sale_row(sdb, sale_id)["state"] == "app_paid" and service.log == []


async def test_a_confirmation_commits_with_the_commands_result_then_releases(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    service = _Service(sdb)
    seen: list[tuple[bool, str]] = []

    def also(session: Any, verdict: Verdict) -> None:
        seen.append((verdict.accepted, session.get_one(Sale, sale_id).state))

    verdict = await _with(service).confirm(Confirmation("pay-1", sale_id, STATION, MILK), "operator:platform", also)
    assert verdict == Verdict(True, sale_state=S.APP_PAID) and seen == [(True, "app_paid")]
    assert service.log == [("reported", sale_id, S.APP_PAID), ("spawned", f"app-release-{sale_id[:8]}")]
    assert _audit(sdb, "sale.app_paid")[0][0] == "operator:platform"


async def test_a_refused_confirmation_releases_nothing(sdb: Database) -> None:
    sale_id = _sale(sdb, [1])
    service = _Service(sdb)
    verdict = await _with(service).confirm(Confirmation("pay-1", sale_id, STATION, MILK - 1), "operator:platform")
    assert not verdict.accepted and service.log == []
    late = _sale(sdb, [2], ttl_s=-5)
    await _with(service).confirm(Confirmation("pay-2", late, STATION, BREAD), "operator:platform")
    assert service.log == [("reported", late, S.EXPIRED)]


async def test_release_opens_the_doors_of_the_sale_and_settles_what_they_did(sdb: Database) -> None:
    sale_id = _paid(sdb, [2, 1], MILK + BREAD)
    service = _Service(sdb, {1: RELEASED})
    await _with(service).release(sale_id)
    assert service.log == [("commit", S.APP_RELEASE_REQUESTED, False), ("reported", sale_id, S.APP_RELEASE_REQUESTED),
                           ("said", "Mit der App bezahlt"), ("pulsed", [2, 1]),
                           ("until_committed", f"sale {sale_id} released"), ("reported", sale_id, S.DONE)]
    assert _sale_row(sdb, sale_id)["booked_cents"] == MILK
    assert [b["amount_cents"] for b in _refund_bodies(sdb)] == [BREAD]


async def test_release_of_a_sale_no_longer_paid_leaves_it_to_recovery(sdb: Database) -> None:
    sale_id = _paid(sdb, [1], MILK)
    sdb.run_sync(lambda s: move(s, sale_id, S.APP_RELEASE_REQUESTED))
    service = _Service(sdb, {1: RELEASED})
    await _with(service).release(sale_id)
    assert service.log == [("recovery", sale_id)]
