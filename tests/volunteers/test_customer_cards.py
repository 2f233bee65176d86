"""A volunteer registers an age-verified customer card at the reader; the card then buys beer by card.

Real station (`build_station`), NFC field simulator, lock wall and ZVT terminal simulators.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from simulators.nfc import Ntag213
from simulators.zvt import ZvtSimulator
from station import catalogue
from station.compartments.contents import load as load_compartment
from station.db.models import AuditEntry, CustomerCard, Sale
from station.purchase import FINAL
from tests.purchase.conftest import SIM
from tests.volunteers.conftest import OPERATOR_UID, make_site, wait_for

CUSTOMER_UID = "04AA55CC77EE99"
BEER = catalogue.ProductData("4031234000016", "Dorfbier 0,5 l", 189, deposit_cents=8, min_age=16)


async def card_tap(kiosk, uid: str) -> None:
    """Hold a customer card to the reader until the purchase service has seen it."""
    kiosk.field.present(Ntag213.create(uid))
    try:
        await wait_for(lambda: kiosk.station.purchases.age.tapped(uid), what=f"the tap of {uid}")
    finally:
        kiosk.field.remove()


async def test_registered_card_buys_beer_and_a_plain_card_cannot(tmp_path: Path) -> None:
    terminal = ZvtSimulator(SIM)
    url = (await terminal.start_tcp()).replace("socket://", "tcp://")
    try:
        async with make_site(tmp_path, extra=f'\n[payment]\nport = "{url}"\n') as site, site.run() as kiosk:
            def stock(session):
                catalogue.set_catalogue(session, [BEER], replace=False, actor="operator:platform")
                for compartment in (1, 2):
                    load_compartment(session, compartment, BEER.gtin, 1, best_before=date.today() + timedelta(30),
                                     actor="volunteer:1")

            await kiosk.station.db.write(stock)
            await wait_for(lambda: kiosk.station.purchases.recovery.done, what="purchase recovery")
            refused = await kiosk.http.post("/api/purchases", json={"compartments": [1]})
            assert refused.status_code == 403 and refused.json()["error"] == "age_check_required"
            assert "ab 16 Jahren" in refused.json()["message"]

            token = await kiosk.operator()
            await card_tap(kiosk, OPERATOR_UID)  # a staff badge is not a customer card
            body = {"min_age": 18, "id_checked": True}
            badge = await kiosk.http.post("/api/staff/customer-cards", json=body, headers=kiosk.auth(token))
            assert badge.status_code == 409 and badge.json()["error"] == "conflict"
            await card_tap(kiosk, CUSTOMER_UID)
            registered = await kiosk.http.post("/api/staff/customer-cards", json=body, headers=kiosk.auth(token))
            assert registered.status_code == 200 and registered.json()["min_age"] == 18

            await asyncio.sleep(0.5)  # the reader reports the same card again only after its debounce (0.3 s)
            await card_tap(kiosk, CUSTOMER_UID)  # the shopper holds the card to the reader, then buys
            started = await kiosk.http.post("/api/purchases", json={"compartments": [1]})
            assert started.status_code == 202, started.text
            sale_id = started.json()["sale_id"]

            async def final() -> bool:
                return (await kiosk.http.get(f"/api/purchases/{sale_id}")).json()["state"] in FINAL

            for _ in range(300):
                if await final():
                    break
                await asyncio.sleep(0.05)
            sale = kiosk.read(lambda s: s.get_one(Sale, sale_id))
            assert sale.state == "done" and sale.age_proof == "customer_card"
            cards = kiosk.read(lambda s: [(c.uid_digest, c.min_age) for c in s.scalars(select(CustomerCard))])
            assert len(cards) == 1 and CUSTOMER_UID not in cards[0][0] and cards[0][1] == 18
            audit = kiosk.read(lambda s: [(a.action, str(a.details)) for a in s.scalars(select(AuditEntry))])
            actions = [a for a, _ in audit]
            assert actions.count("age_check.refused") == 1 and actions.count("age_check.passed") == 1
            assert "customer_card.registered" in actions
            assert not any(CUSTOMER_UID in details for _a, details in audit)
    finally:
        await terminal.stop()
