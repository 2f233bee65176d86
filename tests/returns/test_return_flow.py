"""The return session's branches: a silent machine, the machine ending a session, a shopper who walks away,
credit and donation, large totals, containers arriving too late; every event against its payload schema."""

from __future__ import annotations

import json
from pathlib import Path

from deposit import ContainerKind
from simulators.deposit import Container, SimulatedDepositMachine, demo_gtin
from tests.returns.conftest import SEVEN, UNIT, Rig, running_station
from tests.sync.schema_check import errors, rule_for

PRIORITIES = {0: "money", 1: "alarm", 2: "stock", 3: "telemetry"}


def assert_events_match_schemas(rig: Rig) -> set[str]:
    """Every outbox event so far validates against its registered payload schema and priority."""
    problems, types = [], set()
    for event_type, version, priority, payload in rig.sql("SELECT type, schema_version, priority, payload FROM outbox"):
        types.add(event_type)
        rule = rule_for(event_type, version)
        if rule is None:
            problems.append(f"{event_type}: no payload schema")
            continue
        if PRIORITIES[priority] != rule.priority:
            problems.append(f"{event_type}: priority {PRIORITIES[priority]}, registry {rule.priority}")
        problems += [f"{event_type}: {e}" for e in errors(json.loads(payload), rule.payload_schema)]
    assert problems == [], "\n".join(problems)
    return types


async def start(rig: Rig) -> str:
    reply = await rig.http.post("/api/returns")
    assert reply.status_code == 202, reply.text
    return str(reply.json()["return_id"])


async def returned(rig: Rig, items: list[Container]) -> str:
    """A return with `items` inserted and stored, finished: in state choosing."""
    return_id = await start(rig)
    await (await rig.feed(items))
    await rig.until(lambda: rig.counted(return_id, len(items)), what=f"{len(items)} containers")
    finished = await rig.http.post(f"/api/returns/{return_id}/finish")
    assert finished.json()["state"] == "choosing", finished.text
    return return_id


async def test_a_silent_machine_is_a_state_not_a_crash(rig: Rig) -> None:
    rig.machine.faults.silent = True
    await rig.until(lambda: rig.station.deposit.availability.available is False, what="machine down")
    status = (await rig.http.get("/api/deposit")).json()
    assert status["ready"] is False and "antwortet" in status["reason"]
    refused = await rig.http.post("/api/returns")
    assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
    health = (await rig.http.get("/api/health")).json()["components"]["deposit"]
    assert health["status"] == "degraded" and health["detail"]["available"] is False
    rig.machine.faults.silent = False
    await rig.until(lambda: rig.station.deposit.status()["ready"], what="machine back")
    assert rig.sql("SELECT count(*) FROM deposit_returns") == [(0,)]


async def test_a_full_bin_ends_the_session_and_the_shopper_takes_a_credit(tmp_path: Path) -> None:
    machine = SimulatedDepositMachine(UNIT, fifo_capacity=16, bin_capacity=3, seed=3)
    async with running_station(tmp_path, machine=machine) as rig:
        return_id = await start(rig)
        report = await (await rig.feed(SEVEN))
        assert len(report.accepted) == 3 and report.ended.startswith("session ended")
        view = await rig.until(lambda: _state_is(rig, return_id, "choosing"), what="choosing after bin full")
        assert view["count"] == 3 and view["total_cents"] == 25 + 25 + 15
        refused = await rig.http.post("/api/returns")
        assert refused.status_code == 409  # the shopper must choose first (and the bin is full anyway)
        credit = (await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "credit"})).json()
        (voucher,) = credit["vouchers"]
        assert (credit["state"], voucher["medium"], voucher["amount_cents"], voucher["print_state"]) == (
            "credit", "credit", 65, None)
        assert rig.sql("SELECT count(*) FROM print_jobs") == [(0,)]
        check = await rig.http.post("/api/vouchers/check", json={"code": voucher["code"]})
        assert check.json()["redeemable"] is True
        assert (await rig.http.get("/api/deposit")).json()["reason"] == "Der Pfandautomat ist voll – bitte später " \
            "wiederkommen"
        assert "deposit_return.credit" in assert_events_match_schemas(rig)


async def _state_is(rig: Rig, return_id: str, state: str) -> dict[str, object] | None:
    view = await rig.return_state(return_id)
    return view if view["state"] == state else None


async def test_a_shopper_who_walks_away_gets_the_session_closed_and_a_voucher_printed(rig: Rig) -> None:
    service = rig.station.deposit
    now = [1000.0]
    service.clock = lambda: now[0]
    return_id = await start(rig)
    await (await rig.feed(SEVEN[:2]))
    await rig.until(lambda: rig.counted(return_id, 2), what="2 stored")
    now[0] += service.config.session_timeout_s + 1  # nobody presses "done"
    await rig.until(lambda: _state_is(rig, return_id, "choosing"), what="closed after the session timeout")
    assert not rig.machine.session_open
    now[0] += service.config.choice_timeout_s + 1  # nobody chooses
    view = await rig.until(lambda: _state_is(rig, return_id, "voucher"), what="voucher after the choice timeout")
    assert view["vouchers"][0]["amount_cents"] == 50
    await rig.printer.wait_jobs(1, timeout=5)
    assert [b.data for b in rig.printer.jobs[0].barcodes] == [view["vouchers"][0]["code"]]
    ((actor,),) = rig.sql("SELECT actor FROM audit_log WHERE action = 'deposit_return.voucher'")
    assert actor == "system"


async def test_donation_and_an_empty_return(rig: Rig) -> None:
    return_id = await returned(rig, SEVEN[:3])
    donated = (await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "donation"})).json()
    assert (donated["state"], donated["vouchers"], donated["total_cents"]) == ("donated", [], 65)
    ((payload,),) = rig.sql("SELECT payload FROM outbox WHERE type = 'deposit_return.donated'")
    assert json.loads(payload)["recipient"] == "Tafel Musterdorf"

    empty = await start(rig)
    finished = (await rig.http.post(f"/api/returns/{empty}/finish")).json()
    assert finished["state"] == "cancelled" and finished["count"] == 0
    late = await rig.http.post(f"/api/returns/{empty}/choice", json={"choice": "voucher"})
    assert late.status_code == 409
    missing = await rig.http.post("/api/returns/nope/finish")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    types = assert_events_match_schemas(rig)
    assert {"deposit_return.donated", "deposit_return.cancelled"} <= types and "voucher.issued" not in types


async def test_a_total_above_99_99_is_paid_in_several_vouchers(tmp_path: Path) -> None:
    crate = demo_gtin(3001)
    async with running_station(tmp_path, extra_deposit=f'gtin_amounts = {{ "{crate}" = 9000 }}') as rig:
        crates = [Container(crate, ContainerKind.CRATE, 150)] * 2
        return_id = await returned(rig, crates)
        settled = (await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})).json()
        assert settled["total_cents"] == 18000
        assert sorted(v["amount_cents"] for v in settled["vouchers"]) == [8001, 9999]
        await rig.printer.wait_jobs(2, timeout=5)
        printed = sorted(b.data for job in rig.printer.jobs for b in job.barcodes)
        assert printed == sorted(v["code"] for v in settled["vouchers"])
        assert_events_match_schemas(rig)


async def test_a_container_the_machine_held_while_silent_arrives_late_with_an_alarm(rig: Rig) -> None:
    return_id = await start(rig)
    await (await rig.feed(SEVEN[:1]))
    await rig.until(lambda: rig.counted(return_id, 1), what="first stored")
    rig.machine.faults.silent = True  # the cable is cut; the shopper still puts one in
    rig.machine.insert(SEVEN[1])
    finished = (await rig.http.post(f"/api/returns/{return_id}/finish")).json()
    assert (finished["state"], finished["count"]) == ("choosing", 1)  # the shopper is not stranded
    await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})
    rig.machine.faults.silent = False
    await rig.until(lambda: len(rig.sql("SELECT id FROM deposit_return_items")) == 2, what="late container stored")
    assert rig.sql("SELECT return_id, late FROM deposit_return_items ORDER BY id") == [(return_id, 0),
                                                                                       (return_id, 1)]
    assert ("deposit.late_container", f"deposit_return:{return_id}") in rig.sql("SELECT kind, subject FROM alarms")
    assert rig.sql("SELECT total_cents FROM deposit_returns") == [(25,)]  # what was paid stays what was paid
    assert not rig.machine.fifo  # acknowledged only after it was stored
    await rig.until(lambda: not rig.machine.session_open, what="the session nobody owns closed")
    await rig.until(lambda: rig.station.deposit.status()["ready"], what="ready again")  # not left blocked
