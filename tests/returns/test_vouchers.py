"""The voucher ledger: one redemption per voucher, concurrently and after a restart; reprints never duplicate."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from simulators.printer import PrinterSimulator
from station.db.engine import Database
from station.printing import DeskSettings, ReceiptDesk
from station.receipts import Shop
from station.vouchers import Throttle, VoucherError, VoucherService, ledger
from sync.handlers import register_handlers
from sync.mqttio import Incoming
from sync.router import CommandRouter
from sync.signing import command_body, generate_key, public_key_text, sign_command
from tests.returns.conftest import SEVEN, Rig, running_station

KEY = generate_key()
_seq = iter(range(1, 1_000_000))


def redeem_command(code: str, reference: str, station: str = "test-01") -> Incoming:
    body = command_body(action="redeem_voucher", params={"code": code, "reference": reference}, station_id=station,
                        issuer="ops", issuer_seq=next(_seq), lifetime_s=120)
    return Incoming(f"station/{station}/cmd/redeem_voucher", sign_command(body, KEY), 1, False)


def command_router(db: Database) -> CommandRouter:
    router = CommandRouter(db, "test-01", {"ops": public_key_text(KEY)})
    register_handlers(router)
    return router


async def issue(db: Database, cents: int, medium: str = "paper") -> str:
    voucher = await db.write(lambda s: ledger.issue(s, cents, prefix=29, origin="return", medium=medium))
    return voucher.code


def desk() -> ReceiptDesk:
    return ReceiptDesk(DeskSettings(shop=Shop("Test"), base_url="http://station.test"))


def redeemed_events(db: Database) -> list[dict[str, Any]]:
    rows = db.run_sync(lambda s: s.execute(text("SELECT payload FROM outbox WHERE type = 'voucher.redeemed'")).all())
    return [json.loads(p) if isinstance(p, str) else p for (p,) in rows]


async def test_two_redemptions_at_once_exactly_one_succeeds(db_path: Path) -> None:
    db = Database(db_path)
    await db.start()
    try:
        service = VoucherService(db, desk())
        code = await issue(db, 175)
        outcomes = await asyncio.gather(
            *(service.redeem(code, actor="operator:ops", reference=f"shop-{n}") for n in range(4)),
            return_exceptions=True,
        )
        ok = [o for o in outcomes if isinstance(o, dict)]
        refused = [o for o in outcomes if isinstance(o, VoucherError)]
        assert len(ok) == 1 and len(refused) == 3, outcomes
        assert {r.code for r in refused} == {"already_redeemed"}
        assert ok[0]["amount_cents"] == 175 and ok[0]["state"] == "redeemed"
        assert len(redeemed_events(db)) == 1
        # A redeemed voucher presented again is refused and raises the fraud alarm (copy or photo?).
        alarms = await db.read(lambda s: s.execute(text("SELECT kind FROM alarms WHERE state = 'raised'")).all())
        assert ("voucher.presented_again",) in alarms
    finally:
        await db.stop()


async def test_after_a_restart_the_voucher_stays_redeemed_and_a_repeat_answers_the_same(db_path: Path) -> None:
    db = Database(db_path)
    await db.start()
    code = await issue(db, 250)
    first = await command_router(db).handle(redeem_command(code, "shop-A/till-7"))
    assert first["status"] == "done" and first["result"]["repeated"] is False
    await db.stop()

    db = Database(db_path)  # the daemon restarted: a new process would see exactly this file
    await db.start()
    try:
        router = command_router(db)
        repeat = await router.handle(redeem_command(code, "shop-A/till-7"))  # a new command, the same redemption
        assert repeat["status"] == "done" and repeat["result"]["repeated"] is True
        other = await router.handle(redeem_command(code, "shop-B"))
        assert (other["status"], other["reason"]) == ("failed", "already_redeemed")
        with pytest.raises(VoucherError) as refused:
            await db.write(lambda s: ledger.hold_for_sale(s, [code], "sale-after-restart"))
        assert refused.value.code == "already_redeemed"
        assert [e["redeemed_by"] for e in redeemed_events(db)] == ["shop-A/till-7"]
    finally:
        await db.stop()


async def test_a_purchase_and_the_platform_race_for_one_voucher(shop_rig: Rig) -> None:
    """The shopper pays with a voucher while the platform redeems it at the village shop: exactly one wins."""
    code = await issue(shop_rig.db, 100)
    router = command_router(shop_rig.db)
    purchase, command = await asyncio.gather(
        shop_rig.http.post("/api/purchases", json={"compartments": [2], "vouchers": [code]}),
        router.handle(redeem_command(code, "village-shop")),
    )
    if purchase.status_code == 202:
        assert command["status"] == "failed" and command["reason"] in ("busy", "already_redeemed"), command
        sale_id = purchase.json()["sale_id"]
        await shop_rig.until(lambda: _sale_state(shop_rig, sale_id) == "done", what="purchase done")
        assert shop_rig.sql("SELECT state, redeemed_by FROM vouchers") == [("redeemed", sale_id)]
    else:
        assert purchase.status_code == 409 and purchase.json()["error"] == "already_redeemed", purchase.text
        assert command["status"] == "done"
        assert shop_rig.sql("SELECT state, redeemed_by FROM vouchers") == [("redeemed", "village-shop")]
    assert len(shop_rig.sql("SELECT id FROM outbox WHERE type = 'voucher.redeemed'")) == 1


def _sale_state(rig: Rig, sale_id: str) -> str:
    return rig.sql("SELECT state FROM sales WHERE id = ?", sale_id)[0][0]


async def test_a_voucher_whose_print_failed_is_in_the_ledger_and_reprints_with_the_same_code(tmp_path: Path) -> None:
    printer = PrinterSimulator(seed=1, paper_lines=6)  # the roll runs out in the middle of the voucher
    async with running_station(tmp_path, printer=printer) as rig:
        return_id = (await rig.http.post("/api/returns")).json()["return_id"]
        await (await rig.feed(SEVEN[:2]))
        await rig.until(lambda: rig.counted(return_id, 2), what="2 containers")
        await rig.http.post(f"/api/returns/{return_id}/finish")
        voucher = (await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})).json()[
            "vouchers"][0]
        await rig.until(lambda: rig.sql("SELECT state FROM print_jobs") == [("unconfirmed",)], what="print failed")
        assert printer.jobs[0].printed is False
        # The alarm follows the printer's status on its own path: it may come a moment after the job's end.
        await rig.until(lambda: rig.sql("SELECT kind FROM alarms WHERE state = 'raised'") == [("printer.paper_out",)],
                        what="the paper-out alarm (and no other)")
        assert rig.sql("SELECT code, state FROM vouchers") == [(voucher["code"], "issued")]

        printer.replace_paper()
        reprint = await rig.http.post(f"/api/vouchers/{voucher['code']}/print")
        assert reprint.status_code == 202, reprint.text
        assert reprint.json()["receipt_id"] == voucher["receipt_id"]  # the same receipt: the same voucher
        await rig.until(lambda: ("printed",) in rig.sql("SELECT state FROM print_jobs"), what="reprinted")
        codes = [b.data for job in printer.jobs for b in job.barcodes]
        assert codes == [voucher["code"], voucher["code"]]  # on paper twice …
        assert len(rig.sql("SELECT id FROM vouchers")) == 1  # … in the ledger once
        await rig.until(lambda: rig.sql("SELECT state FROM alarms WHERE kind = 'printer.paper_out'") == [("cleared",)],
                        what="paper alarm cleared")

        router = command_router(rig.db)
        first, second = [await router.handle(redeem_command(voucher["code"], ref)) for ref in ("paper-1", "paper-2")]
        assert (first["status"], second["status"], second["reason"]) == ("done", "failed", "already_redeemed")
        used = await rig.http.post(f"/api/vouchers/{voucher['code']}/print")
        assert used.status_code == 409 and used.json()["error"] == "already_redeemed"


async def test_checking_codes_tells_the_truth_and_guessing_is_throttled(rig: Rig) -> None:
    code = await issue(rig.db, 90)
    ok = await rig.http.post("/api/vouchers/check", json={"code": f"{code[:4]} {code[4:]}"})
    assert ok.status_code == 200 and (ok.json()["amount_cents"], ok.json()["redeemable"]) == (90, True)
    altered = code[:8] + "0095"
    altered += str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(altered)) % 10) % 10)
    bad = await rig.http.post("/api/vouchers/check", json={"code": altered})  # real serial, another amount
    assert bad.status_code == 404 and bad.json()["message"] == "Dieser Pfandbon ist ungültig"
    assert ("voucher.altered",) in rig.sql("SELECT kind FROM alarms")
    wrong_digit = code[:12] + str((int(code[12]) + 1) % 10)  # a misread: no such voucher, and the screen says why
    misread = await rig.http.post("/api/vouchers/check", json={"code": wrong_digit})
    assert misread.status_code == 404 and "bitte prüfen" in misread.json()["message"]
    rig.station.vouchers.throttle = Throttle(limit=3, window_s=60, lockout_s=60)
    answers = [await rig.http.post("/api/vouchers/check", json={"code": f"2900000{n:05d}"[:12] + "0"})
               for n in range(5)]
    assert [a.status_code for a in answers][-1] == 429 and answers[-1].json()["error"] == "throttled"
    assert (await rig.http.post("/api/vouchers/check", json={"code": code})).status_code == 429  # locked for all
    assert ("voucher.guessing",) in rig.sql("SELECT kind FROM alarms WHERE state = 'raised'")
