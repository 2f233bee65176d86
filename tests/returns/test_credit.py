"""Credit at the till: vouchers pay first, the card terminal is asked for the rest only (or not at all).

The ground truth is the ZVT simulator's ledger (what the terminal was asked for and booked) and the
lock simulator (what was opened); the station's ledger must agree with both.
"""

from __future__ import annotations

import json
from typing import Any

from station.purchase import FINAL
from tests.returns.conftest import Rig
from tests.returns.test_return_flow import assert_events_match_schemas
from tests.returns.test_vouchers import issue

BREAD, MILK = 420, 2 * (149 + 15)  # compartment 2, compartment 1 (two bottles with deposit)


async def buy(rig: Rig, compartments: list[int], codes: list[str]) -> dict[str, Any]:
    started = await rig.http.post("/api/purchases", json={"compartments": compartments, "vouchers": codes})
    assert started.status_code == 202, started.text
    sale_id = started.json()["sale_id"]
    await rig.until(lambda: _final(rig, sale_id), within=15, what="purchase final")
    return (await rig.http.get(f"/api/purchases/{sale_id}")).json()


async def _final(rig: Rig, sale_id: str) -> bool:
    return (await rig.http.get(f"/api/purchases/{sale_id}")).json()["state"] in FINAL


def vouchers(rig: Rig) -> list[tuple[Any, ...]]:
    return rig.sql("SELECT amount_cents, state, origin, medium, redeemed_by FROM vouchers ORDER BY issued_at")


async def test_a_credit_applied_to_a_purchase_asks_the_terminal_for_the_rest_only(shop_rig: Rig) -> None:
    code = await issue(shop_rig.db, 100)
    sale = await buy(shop_rig, [2], [code])
    assert shop_rig.terminal is not None
    (txn,) = shop_rig.terminal.ledger.transactions
    assert (txn.kind, txn.authorised_cents, txn.state, txn.booked_cents) == ("payment", BREAD - 100, "booked", 320)
    assert (sale["state"], sale["credit_cents"], sale["card_cents"], sale["booked_cents"]) == ("done", 100, 320, 320)
    assert vouchers(shop_rig) == [(100, "redeemed", "return", "paper", sale["sale_id"])]
    data = (await shop_rig.http.get(f"/api/receipts/{sale['receipt_id']}/data")).json()["data"]
    assert (data["deposit_credit_cents"], data["deposit_voucher_code"]) == (100, code)
    assert [line["name"] for line in data["lines"]] == ["Bauernbrot 750 g"] and data["payment"] is not None
    events = [t for (t,) in shop_rig.sql("SELECT type FROM outbox ORDER BY seq")]
    assert events.index("voucher.redeemed") < events.index("sale.done")


async def test_a_credit_covering_everything_needs_no_terminal_and_leaves_change(shop_rig: Rig) -> None:
    code = await issue(shop_rig.db, 500)
    sale = await buy(shop_rig, [2], [code])
    assert shop_rig.terminal is not None
    ledger = shop_rig.terminal.ledger
    assert "authorisation" not in ledger.commands and ledger.transactions == []  # the terminal was never asked
    assert (sale["state"], sale["card_cents"], sale["booked_cents"]) == ("done", 0, 0)
    assert shop_rig.locks is not None and shop_rig.locks.unlock_requests() == 1
    assert vouchers(shop_rig) == [(500, "redeemed", "return", "paper", sale["sale_id"]),
                                  (80, "issued", "change", "paper", None)]
    (change,) = sale["change"]
    assert change["amount_cents"] == 80 and change["receipt_url"]
    check = await shop_rig.http.post("/api/vouchers/check", json={"code": change["code"]})
    assert check.json()["redeemable"] is True  # the change is a voucher like any other
    ((payload,),) = shop_rig.sql("SELECT payload FROM outbox WHERE type = 'sale.done'")
    done = json.loads(payload)
    assert (done["credit_cents"], done["card_cents"], done["payment"]) == (500, 0, None)
    assert [(v["amount_cents"], v["state"]) for v in done["vouchers"]] == [(500, "redeemed")]
    assert {"sale.done", "voucher.redeemed", "voucher.issued"} <= assert_events_match_schemas(shop_rig)


async def test_the_credit_comes_back_when_no_goods_are_released(shop_rig: Rig) -> None:
    code = await issue(shop_rig.db, 500)
    assert shop_rig.locks is not None
    shop_rig.locks.set_lock_faults(0, 2, jammed=True)
    sale = await buy(shop_rig, [2], [code])
    assert sale["state"] == "reversed" and sale["booked_cents"] == 0
    assert vouchers(shop_rig) == [(500, "issued", "return", "paper", None)]
    shop_rig.locks.set_lock_faults(0, 2, jammed=False)
    again = await buy(shop_rig, [18], [code])  # given back means usable again, once
    assert again["state"] == "done" and vouchers(shop_rig)[0][1] == "redeemed"


async def test_a_declined_card_gives_the_credit_back(shop_rig: Rig) -> None:
    code = await issue(shop_rig.db, 100)
    sale = await buy(shop_rig, [17], [code])  # 3,99 - 1,00 = 2,99: the simulator declines x,99
    assert sale["state"] == "declined"
    assert shop_rig.terminal is not None and shop_rig.terminal.ledger.transactions == []
    assert vouchers(shop_rig) == [(100, "issued", "return", "paper", None)]
    assert "sale.declined" in assert_events_match_schemas(shop_rig)


async def test_a_door_that_stays_shut_books_only_what_the_credit_does_not_cover(shop_rig: Rig) -> None:
    code = await issue(shop_rig.db, 100)
    assert shop_rig.locks is not None and shop_rig.terminal is not None
    shop_rig.locks.set_lock_faults(0, 2, jammed=True)
    sale = await buy(shop_rig, [1, 2], [code])
    (txn,) = shop_rig.terminal.ledger.transactions
    assert txn.authorised_cents == MILK + BREAD - 100
    assert (txn.state, txn.booked_cents) == ("booked", MILK - 100)  # only the milk came out; the credit paid 1,00
    assert (sale["state"], sale["booked_cents"]) == ("done", MILK - 100)
    assert vouchers(shop_rig) == [(100, "redeemed", "return", "paper", sale["sale_id"])]
    assert {"sale.done", "voucher.redeemed"} <= assert_events_match_schemas(shop_rig)


async def test_vouchers_that_cannot_pay_are_refused_before_anything_is_reserved(shop_rig: Rig) -> None:
    code = await issue(shop_rig.db, 9000)
    other = await issue(shop_rig.db, 1000)
    too_much = await shop_rig.http.post("/api/purchases", json={"compartments": [2], "vouchers": [code, other]})
    assert too_much.status_code == 422 and "99,99" in too_much.json()["message"]
    unknown = await shop_rig.http.post("/api/purchases", json={"compartments": [2], "vouchers": ["2912345600019"]})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_voucher", unknown.text
    assert shop_rig.sql("SELECT count(*) FROM sales") == [(0,)]
    assert shop_rig.sql("SELECT state FROM vouchers") == [("issued",), ("issued",)]
