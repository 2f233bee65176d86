"""A return session end to end through the HTTP API, against the deposit machine and printer simulators."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from deposit import RejectReason, parse_code
from simulators.deposit import Container
from simulators.printer import Job
from tests.returns.conftest import AMOUNTS, SEVEN, SEVEN_CENTS, Rig


async def _follow(rig: Rig, return_id: str, counts: list[int], states: list[str]) -> None:
    """Read the return's server-sent events until it is settled."""
    headers = {"accept": "text/event-stream"}  # as a browser's EventSource asks
    async with rig.http.stream("GET", f"/api/returns/{return_id}/events", headers=headers) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                view = json.loads(line[6:])
                counts.append(view["count"])
                states.append(view["state"])


async def test_return_session_end_to_end_voucher_stored_then_printed_and_its_barcode_decodes(rig: Rig) -> None:
    seen_at_print: list[list[tuple[str, int, str]]] = []

    def on_job(job: Job) -> None:  # the printer got the job: the voucher must already be in the ledger (on disk)
        with sqlite3.connect(rig.db_path) as con:
            seen_at_print.append(con.execute("SELECT code, amount_cents, state FROM vouchers").fetchall())

    rig.printer.on_job = on_job
    rejected = Container(SEVEN[0].gtin, SEVEN[0].kind, 25, reject=RejectReason.DAMAGED)
    status = (await rig.http.get("/api/deposit")).json()
    assert status["ready"] is True and status["machine_state"] == "ready"

    started = await rig.http.post("/api/returns")
    assert started.status_code == 202, started.text
    return_id = started.json()["return_id"]
    assert started.json()["state"] == "counting"
    busy = await rig.http.post("/api/returns")
    assert busy.status_code == 409 and busy.json()["error"] == "busy"

    once = await rig.http.get(f"/api/returns/{return_id}/events")  # not an EventSource: the view once, not a stream
    assert [json.loads(line[6:])["state"] for line in once.text.splitlines() if line.startswith("data: ")] == [
        "counting"]
    counts: list[int] = []
    states: list[str] = []
    follower = asyncio.create_task(_follow(rig, return_id, counts, states))
    report = await (await rig.feed([*SEVEN[:3], rejected, *SEVEN[3:]], pace_s=0.01))
    assert len(report.accepted) == 7 and len(report.rejected) == 1
    await rig.until(lambda: rig.counted(return_id, 7), what="7 containers stored")

    finished = await rig.http.post(f"/api/returns/{return_id}/finish")
    assert finished.status_code == 200, finished.text
    body = finished.json()
    assert (body["state"], body["count"], body["total_cents"]) == ("choosing", 7, SEVEN_CENTS)
    by_kind = {item["kind"]: (item["count"], item["deposit_cents"]) for item in body["items"]}
    assert by_kind == {"single_use": (3, AMOUNTS[SEVEN[0].kind]), "reusable": (3, 15), "crate": (1, 150)}

    chosen = await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})
    assert chosen.status_code == 200, chosen.text
    settled = chosen.json()
    assert settled["state"] == "voucher" and len(settled["vouchers"]) == 1
    voucher = settled["vouchers"][0]
    again = await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})
    assert again.json()["vouchers"] == [{**voucher, "print_state": again.json()["vouchers"][0]["print_state"]}]
    other = await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "donation"})
    assert other.status_code == 409 and other.json()["error"] == "too_late"

    jobs = await rig.printer.wait_jobs(1, timeout=5)
    await asyncio.wait_for(follower, 5)
    # The live count went up one container at a time, and ended with the pay-out.
    assert counts == sorted(counts) and counts[-1] == 7 and states[-1] == "voucher"

    # Stored before printed: when the printer received the job, the voucher row was already committed.
    assert seen_at_print == [[(voucher["code"], SEVEN_CENTS, "issued")]]
    # The barcode on paper is the stored voucher: same code, and it decodes to the stored serial and amount.
    barcodes = [b for job in jobs for b in job.barcodes]
    assert [(b.system, b.data) for b in barcodes] == [("EAN13", voucher["code"])]
    decoded = parse_code(barcodes[0].data, 29)
    rows = rig.sql("SELECT serial, amount_cents, state, medium, deposit_return_id FROM vouchers")
    assert rows == [(f"{decoded.serial:06d}", decoded.amount_cents, "issued", "paper", return_id)]
    assert decoded.amount_cents == SEVEN_CENTS
    assert any("PFANDBON" in line for line in jobs[0].text) and jobs[0].cuts == ["full"]
    await rig.until(lambda: _print_state(rig) == "printed", what="job printed")

    # Every container is stored once, with the machine's own keys; the machine's FIFO is empty.
    items = rig.sql("SELECT machine_session, seq, return_id FROM deposit_return_items ORDER BY id")
    assert [(s, q) for s, q, _ in items] == [e.key for e in rig.machine.ledger]
    assert {r for _, _, r in items} == {return_id} and not rig.machine.fifo

    # The outbox has the return and the voucher, and the digital voucher is a page.
    types = [t for (t,) in rig.sql("SELECT type FROM outbox ORDER BY seq")]
    assert types.count("voucher.issued") == 1 and types.count("deposit_return.voucher") == 1
    assert types.index("voucher.issued") < types.index("deposit_return.voucher")
    page = await rig.http.get(f"/api/receipts/{voucher['receipt_id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert voucher["code"] in page.text and "<svg" in page.text and "2,70 €" in page.text


def _print_state(rig: Rig) -> str | None:
    rows = rig.sql("SELECT state FROM print_jobs")
    return rows[0][0] if rows else None
