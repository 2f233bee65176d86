"""Digital receipts: unguessable ids, the page and the QR code, the same data as the paper, errors as ErrorOut."""

from __future__ import annotations

import re

from station.orders import announce
from station.orders.service import NewOrder
from station.printing.pickup import create_pickup_receipt
from tests.returns.conftest import Rig
from tests.returns.test_credit import buy


async def test_a_purchase_receipt_is_a_page_a_qr_code_and_the_same_data_as_the_paper(shop_rig: Rig) -> None:
    sale = await buy(shop_rig, [1], [])
    receipt_id = sale["receipt_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", receipt_id)  # 128 random bits, URL-safe
    assert sale["receipt_url"] == f"http://station.test/api/receipts/{receipt_id}"
    page = await shop_rig.http.get(f"/api/receipts/{receipt_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Hofmilch 1 l" in page.text and "3,28 €" in page.text and "<script" not in page.text
    qr = await shop_rig.http.get(f"/api/receipts/{receipt_id}/qr")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml" and "<svg" in qr.text
    data = (await shop_rig.http.get(f"/api/receipts/{receipt_id}/data")).json()
    assert (data["kind"], data["reference"], data["url"]) == ("purchase", sale["sale_id"], sale["receipt_url"])
    assert data["data"]["payment"]["terminal_id"] and data["data"]["receipt_number"] == "000001"

    await shop_rig.printer.wait_jobs(1, timeout=5)
    job = shop_rig.printer.jobs[0]
    assert any("Hofmilch 1 l" in line for line in job.text) and [q.data for q in job.qr_codes] == [sale["receipt_url"]]
    await shop_rig.until(lambda: shop_rig.sql("SELECT state FROM print_jobs") == [("printed",)], what="printed")
    again = await shop_rig.http.post(f"/api/receipts/{receipt_id}/print")
    assert again.status_code == 202
    await shop_rig.printer.wait_jobs(2, timeout=5)
    assert shop_rig.printer.jobs[1].text == job.text  # a copy on request: the same receipt

    for bad, status in (("x" * 22, 404), ("short", 422), ("A" * 21 + "!", 422)):
        answer = await shop_rig.http.get(f"/api/receipts/{bad}")
        assert answer.status_code == status and answer.json()["error"] in ("not_found", "invalid_request")


async def test_a_pickup_confirmation_is_stored_and_printed(rig: Rig) -> None:
    def write(session):  # what the pick-up flow does in the transaction that records the collection
        new = NewOrder("ORD-7", amount_due_cents=1290, details={"recipient": "Frau Müller", "items": ["Gemüsekiste"]})
        order = announce(session, new, actor="operator:ops")
        return create_pickup_receipt(session, rig.station.receipts, order["order_id"], [4])

    receipt_id, job_id = await rig.db.write(write)
    assert job_id is not None
    await rig.printer.wait_jobs(1, timeout=5)
    text = rig.printer.jobs[0].text
    assert any("ORD-7" in line for line in text) and any("Gemüsekiste" in line for line in text)
    page = await rig.http.get(f"/api/receipts/{receipt_id}")
    assert "Frau Müller" in page.text and "12,90 €" in page.text
