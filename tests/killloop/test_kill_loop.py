"""The whole daemon SIGKILLed at random moments during card purchases, checked against the physical record.

`station simulate --record` runs the lock board and the terminal in their own process; the daemon is
killed at a random moment of a purchase (seeded), restarted, and after every recovery the station's
view is compared with what physically happened:

- 0 goods released without a charge or a `sale.released_not_charged` alarm;
- 0 charges without a release (never more booked than the doors that opened are worth);
- 0 unlock pulses without an approved payment;
- 0 empty compartments offered (no door opened since the compartment was last restocked);
- after end-of-day the terminal's booked total equals the station's (unknown charges settled);
- the outbox sequence is gap-free and `PRAGMA integrity_check` is ok.

30 kills with a fixed seed run by default, 300 with `-m slow`.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from station.db.engine import Database
from station.purchase import endofday
from tests.killloop.harness import PRICE, Station

FINAL = {"done", "cancelled", "declined", "aborted", "reversed", "released_not_charged", "charge_unknown"}


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Tally:
    kills: int = 0
    purchases: int = 0
    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    recovery_s: list[float] = field(default_factory=list)


def _sale_of_pulse(station: Station, pulse: dict[str, Any]) -> str | None:
    """The sale whose door operation for this compartment was committed last before the pulse."""
    rows = station.query(
        "SELECT reference, created_at FROM door_operations WHERE compartment_id = ? AND reason = 'sale' "
        "ORDER BY id", pulse["compartment"],
    )  # fmt: skip
    before = [ref for ref, created in rows if _epoch(created) <= pulse["t"] + 0.001]
    return before[-1] if before else None


def _physical(station: Station) -> tuple[dict[str, set[int]], dict[str, int], list[str]]:
    """Per sale: compartments whose door physically opened after its pulse; per receipt: booked cents."""
    opened: dict[str, set[int]] = defaultdict(set)
    booked: dict[int, int] = {}
    approved: dict[int, float] = {}
    problems: list[str] = []
    last_pulse: dict[int, str | None] = {}
    for event in station.record():
        kind = event["event"]
        if kind == "pulse":
            sale = _sale_of_pulse(station, event)
            last_pulse[event["compartment"]] = sale
            if sale is None:
                problems.append(f"pulse without a committed door operation: {event}")
                continue
            receipt = station.query("SELECT receipt_no FROM payments WHERE sale_id = ? AND kind = 'authorisation'",
                                    sale)  # fmt: skip
            number = receipt[0][0] if receipt else None
            if number is None or number not in approved or approved[number] > event["t"]:
                problems.append(f"pulse on compartment {event['compartment']} without an approved payment ({sale})")
        elif kind == "door_opened" and last_pulse.get(event["compartment"]):
            opened[last_pulse[event["compartment"]] or ""].add(event["compartment"])
            last_pulse[event["compartment"]] = None  # one opening per pulse sequence
        elif kind == "terminal_approved":
            approved[event["receipt_no"]] = event["t"]
        elif kind in ("terminal_booked", "terminal_reversed"):
            booked[event["receipt_no"]] = event["amount_cents"]
    by_sale: dict[str, int] = {}
    for sale_id, receipt in station.query("SELECT sale_id, receipt_no FROM payments WHERE kind = 'authorisation'"):
        by_sale[sale_id] = booked.get(receipt, 0) if receipt is not None else 0
    return opened, by_sale, problems


def check_invariants(station: Station, *, settled: bool = False) -> list[str]:
    problems: list[str] = []
    record = station.record()
    offered = [o["compartment"] for o in station.http.get("/api/offers").json()] if not settled else []
    for comp in offered:
        taken = [e for e in record if e["event"] == "door_opened" and e["compartment"] == comp
                 and e["t"] > station.restocked_at[comp]]  # fmt: skip
        if taken:
            problems.append(f"compartment {comp} is offered but its door opened at {taken[-1]['t']} (goods taken)")
    opened, charged, pulse_problems = _physical(station)
    problems += pulse_problems
    sales = station.query("SELECT id, state, booked_cents FROM sales")
    alarms = {subject for (subject,) in station.query(
        "SELECT subject FROM alarms WHERE kind = 'sale.released_not_charged'")}  # fmt: skip
    for sale_id, state, booked_cents in sales:
        value = sum(PRICE[c] for c in opened.get(sale_id, ()))
        money = charged.get(sale_id, 0)
        if money > value:
            problems.append(f"sale {sale_id} ({state}): charged {money} cents for goods worth {value} released")
        if value and money < value and state != "charge_unknown" and f"sale:{sale_id}" not in alarms:
            problems.append(f"sale {sale_id} ({state}): goods worth {value} out, {money} charged, no alarm")
        if settled and state not in FINAL - {"charge_unknown"}:
            problems.append(f"sale {sale_id} is {state} after end-of-day")
        if settled and state == "done" and booked_cents != money:
            problems.append(f"sale {sale_id}: station booked {booked_cents}, terminal {money}")
    seqs = [s for (s,) in station.query("SELECT seq FROM outbox WHERE stream = 'main' ORDER BY seq")]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append("the outbox sequence has a gap")
    if station.query("PRAGMA integrity_check") != [("ok",)]:
        problems.append("integrity_check failed")
    return problems


def end_of_day(station: Station, closed: set[int]) -> None:
    """The station's end-of-day reconciliation against the terminal's batch since the last one.

    `closed` holds the receipts earlier end-of-days already counted; the batch is every receipt the
    terminal decided (booked or reversed) since. Run as the daemon would run it, on its database.
    """
    batch: dict[int, int] = {}
    for event in station.record():
        if event["event"] in ("terminal_booked", "terminal_reversed") and event["receipt_no"] not in closed:
            batch[event["receipt_no"]] = event["amount_cents"]
    db = Database(station.db_path)
    db.open_sync()
    try:
        db.run_sync(lambda s: endofday.reconcile(s, sum(batch.values()), len([v for v in batch.values() if v])))
    finally:
        db.close_sync()
    closed.update(batch)


def run(station: Station, kills: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    closed: set[int] = set()  # receipts counted by an end-of-day
    station.start_simulator()
    for _ in range(kills):
        station.start_daemon()
        started = time.monotonic()
        station.wait_ready()
        tally.recovery_s.append(time.monotonic() - started)
        assert check_invariants(station) == [], station.log()[-4000:]
        if station.query("SELECT 1 FROM sales WHERE state = 'charge_unknown'"):
            end_of_day(station, closed)  # as the daily end-of-day would, before unknowns pile up
        offers = [o["compartment"] for o in station.http.get("/api/offers").json()]
        if offers and rng.random() < 0.9:
            chosen = rng.sample(offers, k=min(len(offers), rng.choice([1, 1, 2])))
            reply = station.http.post("/api/purchases", json={"compartments": chosen})
            assert reply.status_code == 202, reply.text
            tally.purchases += 1
        time.sleep(rng.uniform(0.0, 1.5))  # anywhere from "just created" to "done"
        station.kill()
        tally.kills += 1
        if rng.random() < 0.7:  # mostly the shopper finishes first; sometimes the door is still open at restart
            time.sleep(0.6)
        station.restock_empty()
    station.start_daemon()
    station.wait_ready()
    assert check_invariants(station) == [], station.log()[-4000:]
    station.kill()
    end_of_day(station, closed)
    for (state,) in station.query("SELECT state FROM sales"):
        tally.states[state] += 1
    assert check_invariants(station, settled=True) == []
    return tally


def _report(tally: Tally, seed: int) -> None:
    recovery = sorted(tally.recovery_s)
    print(f"\nkill loop seed {seed}: {tally.kills} SIGKILLs, {tally.purchases} purchases, final states "
          f"{dict(sorted(tally.states.items()))}; restart to ready p50 {recovery[len(recovery) // 2]:.2f} s, "
          f"max {recovery[-1]:.2f} s")  # fmt: skip


@pytest.mark.timeout(900)
def test_kill_loop_fixed_seed(tmp_path: Path) -> None:
    station = Station(tmp_path)
    try:
        tally = run(station, kills=30, seed=9)
    finally:
        station.stop()
    _report(tally, 9)
    assert tally.kills == 30 and tally.purchases >= 20


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("seed", [101, 202, 303])
def test_kill_loop_many(tmp_path: Path, seed: int) -> None:
    station = Station(tmp_path)
    try:
        tally = run(station, kills=100, seed=seed)
    finally:
        station.stop()
    _report(tally, seed)


def test_the_checks_notice_an_empty_compartment_offered(tmp_path: Path) -> None:
    """The invariants themselves can fail: a door opening the station never heard of is caught."""
    station = Station(tmp_path)
    try:
        station.start_simulator()
        station.start_daemon()
        station.wait_ready()
        with station.record_path.open("a") as out:  # the physical record says: compartment 4 opened, goods gone
            out.write(f'{{"t": {time.time()}, "event": "door_opened", "compartment": 4}}\n')
        problems = check_invariants(station)
    finally:
        station.stop()
    assert any("compartment 4 is offered" in p for p in problems)
