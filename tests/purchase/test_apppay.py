"""Paying by app against the lock simulator: signed request, confirmation checks, release, refunds, recovery."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from station.db.models import AppRefund, AuditEntry, OutboxEvent, Sale
from station.db.types import utcnow
from station.purchase import PurchaseError, SaleState
from station.purchase.apppay import Confirmation, Verdict
from station.purchase.apprequest import PAYMENT_REQUEST, REFUND_REQUEST, verify_envelope
from tests.purchase.conftest import STATION_ID, Shop

MILK = 2 * (149 + 15)  # compartment 1
BREAD = 420  # compartment 2
BEER = 189 + 8  # compartment 3, from 16


async def confirm(shop: Shop, sale_id: str, amount: int, *, payment_id: str | None = None,
                  station: str = STATION_ID, age: int | None = None) -> Verdict:
    c = Confirmation(payment_id or f"pay-{uuid.uuid4()}", sale_id, station, amount, age)
    return await shop.service.app.confirm(c, "operator:platform")


def refunds(shop: Shop) -> list[AppRefund]:
    return shop.db.run_sync(lambda s: list(s.scalars(select(AppRefund).order_by(AppRefund.created_at))))


def events(shop: Shop, kind: str) -> list[dict]:
    return shop.db.run_sync(lambda s: [e.payload for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.type == kind).order_by(OutboxEvent.id))])


async def test_request_is_signed_and_confirmation_releases(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    assert shop.compartment(1) == "reserved"
    request = await shop.db.read(lambda s: shop.service.app.request_in(s, sale_id))
    assert request is not None and request["schema"] == PAYMENT_REQUEST
    body = verify_envelope(shop.service.app.signer.public_key(), request)
    assert body["station_id"] == STATION_ID and body["sale_id"] == sale_id and body["amount_cents"] == MILK
    assert shop.locks.unlock_requests() == 0  # nothing opens before the confirmation
    verdict = await confirm(shop, sale_id, MILK)
    assert verdict.accepted
    sale = await shop.finished(sale_id)
    assert sale.state == SaleState.DONE and sale.paid_by == "app" and sale.booked_cents == MILK
    assert shop.locks.unlock_requests(0) == 1 and shop.compartment(1) == "empty"
    assert shop.terminal_sim.ledger.commands.count("authorisation") == 0
    kinds = shop.event_types()
    assert kinds.index("sale.app_paid") < kinds.index("door.opened") < kinds.index("sale.done")
    assert refunds(shop) == []


async def test_tampered_request_does_not_verify(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    request = await shop.db.read(lambda s: shop.service.app.request_in(s, sale_id))
    forged = dict(request, body=request["body"].replace(f'"amount_cents":{MILK}', '"amount_cents":1'))
    with pytest.raises(ValueError):
        verify_envelope(shop.service.app.signer.public_key(), forged)


@pytest.mark.parametrize("case", ["wrong_amount", "wrong_station", "unknown_sale"])
async def test_refused_confirmations_open_nothing_and_ask_back(shop: Shop, case: str) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    amount, station, named = MILK, STATION_ID, sale_id
    if case == "wrong_amount":
        amount = MILK - 1
    elif case == "wrong_station":
        station = "other-station"
    else:
        named = str(uuid.uuid4())
    verdict = await confirm(shop, named, amount, station=station)
    assert not verdict.accepted and verdict.reason == case
    [refund] = refunds(shop)
    assert refund.amount_cents == amount and refund.reason == case and refund.state == "requested"
    [event] = events(shop, "app.refund_requested")
    body = verify_envelope(shop.service.app.signer.public_key(), event["request"])
    assert event["request"]["schema"] == REFUND_REQUEST and body["amount_cents"] == amount
    assert shop.locks.unlock_requests() == 0
    assert (await shop.db.read(lambda s: s.get_one(Sale, sale_id))).state == SaleState.APP_REQUESTED


async def test_replayed_confirmation_opens_once_and_refunds_nothing(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    assert (await confirm(shop, sale_id, MILK, payment_id="pay-1")).accepted
    await shop.finished(sale_id)
    again = await confirm(shop, sale_id, MILK, payment_id="pay-1")
    assert not again.accepted and again.reason == "already_used"
    assert shop.locks.unlock_requests(0) == 1 and refunds(shop) == []


async def test_second_payment_for_a_paid_sale_is_refunded_once(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    assert (await confirm(shop, sale_id, MILK, payment_id="pay-1")).accepted
    await shop.finished(sale_id)
    for _ in range(2):  # the same second payment confirmed twice: asked back once
        verdict = await confirm(shop, sale_id, MILK, payment_id="pay-2")
        assert verdict.reason == "not_waiting"
    assert [(r.payment_id, r.amount_cents) for r in refunds(shop)] == [("pay-2", MILK)]
    assert shop.locks.unlock_requests(0) == 1


async def test_cancelled_then_confirmed_is_refunded(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    await shop.service.cancel(sale_id)
    assert shop.compartment(1) == "loaded"
    verdict = await confirm(shop, sale_id, MILK)
    assert verdict.reason == "not_waiting" and refunds(shop)[0].amount_cents == MILK
    assert shop.locks.unlock_requests() == 0


async def test_late_confirmation_expires_and_is_refunded(shop: Shop) -> None:
    shop.service.app.request_ttl_s = 0.2
    sale_id = await shop.service.begin([1], pay_with="app")
    sale = await shop.finished(sale_id, within=5)
    assert sale.state == SaleState.EXPIRED and shop.compartment(1) == "loaded"
    verdict = await confirm(shop, sale_id, MILK)
    assert verdict.reason == "late" and refunds(shop)[0].reason == "late"
    assert shop.locks.unlock_requests() == 0


async def test_confirmation_past_expiry_before_the_timer_is_late(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    past = utcnow() - timedelta(seconds=1)
    await shop.db.write(lambda s: s.execute(update(Sale).where(Sale.id == sale_id).values(app_expires_at=past)))
    verdict = await confirm(shop, sale_id, MILK)
    assert verdict.reason == "late"
    assert (await shop.db.read(lambda s: s.get_one(Sale, sale_id))).state == SaleState.EXPIRED


async def test_door_failure_asks_back_the_part_not_released(shop: Shop) -> None:
    shop.locks.set_lock_faults(0, 2, jammed=True)
    sale_id = await shop.service.begin([1, 2], pay_with="app")
    assert (await confirm(shop, sale_id, MILK + BREAD, payment_id="pay-door")).accepted
    sale = await shop.finished(sale_id)
    assert sale.state == SaleState.DONE and sale.booked_cents == MILK
    [refund] = refunds(shop)
    assert (refund.payment_id, refund.amount_cents, refund.reason) == ("pay-door", BREAD, "not_released")
    done = events(shop, "sale.done")[-1]
    assert done["refund_cents"] == BREAD and done["paid_by"] == "app"


async def test_no_door_opens_asks_back_everything(shop: Shop) -> None:
    shop.locks.set_lock_faults(0, 2, jammed=True)
    sale_id = await shop.service.begin([2], pay_with="app")
    assert (await confirm(shop, sale_id, BREAD)).accepted
    sale = await shop.finished(sale_id)
    assert sale.state == SaleState.REFUND_REQUESTED and sale.booked_cents == 0
    assert [r.amount_cents for r in refunds(shop)] == [BREAD]


async def test_without_uplink_app_is_unavailable_and_card_works(shop: Shop) -> None:
    shop.service.app.uplink = lambda: False
    with pytest.raises(PurchaseError) as refused:
        await shop.service.begin([1], pay_with="app")
    assert refused.value.code == "app_unavailable"
    sale = await shop.finished(await shop.service.begin([1]))
    assert sale.state == SaleState.DONE


async def test_refund_answer_closes_it_once(shop: Shop) -> None:
    from station.purchase import refunds as flow

    sale_id = await shop.service.begin([1], pay_with="app")
    await confirm(shop, sale_id, MILK - 1)
    [refund] = refunds(shop)
    for _ in range(2):
        result = await shop.db.write(lambda s: flow.close(s, refund.id, True, reference="r-1", actor="operator:p"))
        assert result["state"] == "refunded"
    assert len(events(shop, "app.refund_closed")) == 1


# -- age checks -------------------------------------------------------------------------------------------
class Tap:
    def __init__(self, uid_hex: str) -> None:
        self.uid_hex = uid_hex


async def register_card(shop: Shop, uid: str, age: int) -> None:
    from station.purchase.age import register_card as register

    digest = shop.service.age.secret.customer_card_digest(uid)
    await shop.db.write(lambda s: register(s, digest, age, "volunteer:anna"))


def audit_actions(shop: Shop) -> list[str]:
    return shop.db.run_sync(lambda s: list(s.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("age_check.%")).order_by(AuditEntry.id))))


async def test_beer_with_plain_card_is_refused_before_payment(shop: Shop) -> None:
    with pytest.raises(PurchaseError) as refused:
        await shop.service.begin([3])
    assert refused.value.code == "age_check_required" and "ab 16 Jahren" in str(refused.value)
    assert shop.terminal_sim.ledger.commands.count("authorisation") == 0
    assert shop.compartment(3) == "loaded" and shop.db.run_sync(lambda s: s.scalar(select(Sale.id))) is None
    assert audit_actions(shop) == ["age_check.refused"]
    assert "audit" in shop.event_types()  # the platform hears of the refusal


async def test_beer_with_age_verified_customer_card(shop: Shop) -> None:
    await register_card(shop, "04A1B2C3D4E5F6", 18)
    shop.service.age.on_tap(Tap("04A1B2C3D4E5F6"))
    sale = await shop.finished(await shop.service.begin([3]))
    assert sale.state == SaleState.DONE and sale.age_proof == "customer_card" and sale.min_age == 16
    assert audit_actions(shop) == ["age_check.passed"]
    stored = shop.db.run_sync(lambda s: [str(a.details) for a in s.scalars(select(AuditEntry))])
    assert not any("04A1B2C3D4E5F6" in text for text in stored)  # the UID is never stored


async def test_sixteen_card_does_not_buy_brandy(shop: Shop) -> None:
    await register_card(shop, "04A1B2C3D4E5F7", 16)
    shop.service.age.on_tap(Tap("04A1B2C3D4E5F7"))
    with pytest.raises(PurchaseError):
        await shop.service.begin([4])
    assert audit_actions(shop) == ["age_check.refused"]


async def test_beer_by_app_needs_the_age_flag(shop: Shop) -> None:
    sale_id = await shop.service.begin([3], pay_with="app")
    request = await shop.db.read(lambda s: shop.service.app.request_in(s, sale_id))
    assert verify_envelope(shop.service.app.signer.public_key(), request)["min_age"] == 16
    refused = await confirm(shop, sale_id, BEER)  # no age flag
    assert refused.reason == "no_age_proof" and shop.locks.unlock_requests() == 0
    accepted = await confirm(shop, sale_id, BEER, age=18)
    assert accepted.accepted
    sale = await shop.finished(sale_id)
    assert sale.state == SaleState.DONE and sale.age_proof == "app"
    assert audit_actions(shop) == ["age_check.refused", "age_check.passed"]
    assert [r.reason for r in refunds(shop)] == ["no_age_proof"]


# -- recovery of each app state (what a SIGKILL leaves behind) ---------------------------------------------
async def test_recovery_expires_a_waiting_request(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    await shop.service.recovery.settle(sale_id)
    assert (await shop.db.read(lambda s: s.get_one(Sale, sale_id))).state == SaleState.EXPIRED
    assert shop.compartment(1) == "loaded"


async def test_recovery_of_app_paid_refunds_everything_and_opens_nothing(shop: Shop) -> None:
    sale_id = await shop.service.begin([1], pay_with="app")
    c = Confirmation("pay-crash", sale_id, STATION_ID, MILK)
    await shop.db.write(lambda s: shop.service.app.confirm_in(s, c, "operator:platform"))  # committed, no release
    await shop.service.recovery.settle(sale_id)
    sale = await shop.db.read(lambda s: s.get_one(Sale, sale_id))
    assert sale.state == SaleState.REFUND_REQUESTED
    assert [(r.payment_id, r.amount_cents) for r in refunds(shop)] == [("pay-crash", MILK)]
    assert shop.locks.unlock_requests() == 0 and shop.compartment(1) == "loaded"
    await shop.service.recovery.settle(sale_id)  # a second recovery asks nothing more
    assert len(refunds(shop)) == 1


async def test_recovery_of_release_requested_reads_the_doors(shop: Shop) -> None:
    sale_id = await shop.service.begin([1, 2], pay_with="app")
    c = Confirmation("pay-doors", sale_id, STATION_ID, MILK + BREAD)
    await shop.db.write(lambda s: shop.service.app.confirm_in(s, c, "operator:platform"))
    await shop.service.commit(sale_id, SaleState.APP_RELEASE_REQUESTED)
    result = await shop.service.lockwall.open(1, "sale", sale_id, actor="shopper")  # door 1 opened, then a crash
    assert result.outcome.name == "OPENED"
    await asyncio.sleep(0)
    await shop.service.recovery.settle(sale_id)
    sale = await shop.db.read(lambda s: s.get_one(Sale, sale_id))
    assert sale.state == SaleState.DONE and sale.booked_cents == MILK
    assert [(r.amount_cents, r.reason) for r in refunds(shop)] == [(BREAD, "not_released")]
    assert shop.locks.unlock_requests(0) == 1


async def test_app_events_match_their_payload_schemas(shop: Shop) -> None:
    from station.purchase import refunds as flow
    from tests.sync.schema_check import errors, rule_for

    shop.locks.set_lock_faults(0, 2, jammed=True)
    partial = await shop.service.begin([1, 2], pay_with="app")
    await confirm(shop, partial, MILK + BREAD)
    await shop.finished(partial)
    refused = await shop.service.begin([3], pay_with="app")
    await confirm(shop, refused, BEER)  # no age flag: refunded
    [first, *_] = refunds(shop)
    await shop.db.write(lambda s: flow.close(s, first.id, False, reference="no", actor="operator:p"))
    await shop.service.cancel(refused)
    shop.service.app.request_ttl_s = 0.1
    await shop.finished(await shop.service.begin([18], pay_with="app"))
    with pytest.raises(PurchaseError):
        await shop.service.begin([4])  # brandy with a plain card: refused, audited
    rows = await shop.db.read(lambda s: [(e.type, e.schema_version, e.payload) for e in s.scalars(select(OutboxEvent))])
    problems, types = [], set()
    for kind, version, payload in rows:
        types.add(kind)
        rule = rule_for(kind, version)
        assert rule is not None, kind
        problems += [f"{kind}: {e}" for e in errors(payload, rule.payload_schema)]
    assert problems == []
    assert types >= {"sale.app_paid", "sale.done", "sale.expired", "sale.cancelled", "app.refund_requested",
                     "app.refund_closed", "audit"}


async def test_the_receipt_of_an_app_purchase_says_app(shop: Shop) -> None:
    from station.printing import DeskSettings, ReceiptDesk
    from station.purchase.receipt import purchase_receipt_data
    from station.receipts import Shop as ReceiptShop

    sale_id = await shop.service.begin([1], pay_with="app")
    await confirm(shop, sale_id, MILK, payment_id="pay-receipt")
    await shop.finished(sale_id)
    desk = ReceiptDesk(DeskSettings(shop=ReceiptShop("Test"), base_url="http://station.test"))
    data = await shop.db.read(lambda s: purchase_receipt_data(s, desk, sale_id, "http://station.test/r/1", 1))
    assert data.payment is not None and (data.payment.method, data.payment.receipt_number) == ("App", "pay-receipt")
    assert [line.quantity for line in data.lines] == [2]
