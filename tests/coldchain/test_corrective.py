"""Unblocking: a volunteer's corrective action (discarded / kept) or an operator's override; restarts keep blocks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from station.coldchain import ColdChain, ColdChainError
from station.db.haccp_models import ColdChainBlock, HaccpRecord
from station.db.models import AuditEntry, CompartmentContent
from tests.coldchain.conftest import POLL_S, ColdRoom

FAST = {"kuehl": {"alarm_delay_s": 300}}


async def blocked_by_probe_failure(room: ColdRoom) -> ColdChain:
    """k1's product probe fails: compartments 1 (milk) and 2 (minced meat) get blocked after the delay."""
    service = await room.service(zones=FAST)
    await room.run(service, POLL_S)
    room.fridge("k1").fail_probe("probe1", "short")
    await room.run_until(service, lambda: room.status(1)[0] == room.status(2)[0] == "blocked", 1800)
    return service


def contents(room: ColdRoom, compartment: int) -> int:
    """Items left in a compartment."""
    return room.db.run_sync(
        lambda s: s.scalar(
            select(func.coalesce(func.sum(CompartmentContent.quantity), 0)).where(
                CompartmentContent.compartment_id == compartment
            )
        ),
        write=False,
    )


async def test_corrective_actions_unblock_after_the_checks_and_are_recorded(room: ColdRoom) -> None:
    service = await blocked_by_probe_failure(room)
    with pytest.raises(ColdChainError, match="unknown now"):  # the fridge still has no working probe
        await service.record_corrective_action(1, "kept", "anna", reason="core 4 °C", measured_c=4.0)
    room.fridge("k1").clear_faults()
    await room.run(service, POLL_S)
    assert ("coldchain.zone_excursion", "zone:kuehl", "cleared") in room.alarms()
    assert room.status(1)[0] == "blocked"  # the fridge's recovery alone releases nothing

    with pytest.raises(ColdChainError, match="reason"):
        await service.record_corrective_action(1, "kept", "anna", measured_c=4.0)
    with pytest.raises(ColdChainError, match="measured"):
        await service.record_corrective_action(1, "kept", "anna", reason="checked")
    with pytest.raises(ColdChainError, match="discard"):  # minced meat measured above +2 °C cannot be kept
        await service.record_corrective_action(2, "kept", "anna", reason="checked", measured_c=2.5)
    with pytest.raises(ColdChainError, match="'discarded' or 'kept'"):
        await service.record_corrective_action(2, "sold", "anna")
    assert room.status(2)[0] == "blocked"

    await service.record_corrective_action(2, "discarded", "anna")
    assert room.status(2) == ("empty", None) and contents(room, 2) == 0
    released = await service.record_corrective_action(
        1, "kept", "anna", reason="probe swapped, core temperature checked", measured_c=4.0
    )
    assert released["status"] == "loaded" and contents(room, 1) == 2
    assert room.status(1) == ("loaded", None)
    assert not await service.is_sale_blocked(1) and not await service.is_sale_blocked(2)
    assert service.health().detail["blocked_compartments"] == []

    with pytest.raises(ColdChainError, match="not blocked"):
        await service.record_corrective_action(1, "discarded", "anna")
    blocks = room.db.run_sync(
        lambda s: [
            (b.compartment_id, b.release, b.released_by, b.measured_c, b.details["cause"])
            for b in s.scalars(select(ColdChainBlock).order_by(ColdChainBlock.compartment_id))
        ],
        write=False,
    )
    assert blocks == [
        (1, "kept", "volunteer:anna", 4.0, "unknown"),
        (2, "discarded", "volunteer:anna", None, "unknown"),
    ]
    assert ("coldchain.excursion", "compartment:1", "cleared") in room.alarms()
    assert ("coldchain.excursion", "compartment:2", "cleared") in room.alarms()
    discarded = [p for _, p in room.events("coldchain.compartment_released") if p["action"] == "discarded"]
    (gone,) = discarded[0]["discarded"]
    assert (gone["gtin"], gone["name"], gone["quantity"]) == ("4000000000024", "minced", 2)
    actions = room.db.run_sync(
        lambda s: [(a.actor, a.action, a.reason) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.actor != "system").order_by(AuditEntry.id))],
        write=False,
    )
    assert actions == [
        ("volunteer:anna", "stock.removed", "cold_chain_discarded"),
        ("volunteer:anna", "compartment.empty", None),  # the compartment owner's arrow, by the same person
        ("volunteer:anna", "compartment.unblocked", "cold_chain"),
        ("volunteer:anna", "coldchain_block.released", "corrective_discarded"),
        ("volunteer:anna", "compartment.unblocked", "cold_chain"),
        ("volunteer:anna", "coldchain_block.released", "corrective_kept"),
    ]
    events = room.db.run_sync(
        lambda s: list(s.scalars(select(HaccpRecord.status).where(HaccpRecord.kind == "event"))), write=False
    )
    assert events.count("compartment_blocked") == 2 and events.count("compartment_released") == 2
    assert "zone_excursion" in events and "zone_recovered" in events

    await room.run(service, 10 * POLL_S)  # supervised again, and all is well
    assert room.status(1) == ("loaded", None)


async def test_an_operator_release_is_audited_and_restores_the_status(room: ColdRoom) -> None:
    service = await blocked_by_probe_failure(room)
    with pytest.raises(ColdChainError):
        await service.operator_release(1, "ops-berlin", "")
    payload = await service.operator_release(1, "ops-berlin", "cmd-7f3a")
    assert payload["action"] == "operator_release" and room.status(1) == ("loaded", None)
    entry = room.db.run_sync(
        lambda s: s.scalar(select(AuditEntry).where(AuditEntry.reason == "operator_release")), write=False
    )
    assert (entry.actor, entry.reference) == ("operator:ops-berlin", "cmd-7f3a")


async def test_a_restart_keeps_the_blocks_and_the_zone_alarm(room: ColdRoom) -> None:
    first = await blocked_by_probe_failure(room)
    await first.stop()
    second = await room.service(zones=FAST)
    assert second.health().detail["blocked_compartments"] == [1, 2]
    assert await second.is_sale_blocked(1)
    room.fridge("k1").clear_faults()
    await room.run(second, POLL_S)
    assert ("coldchain.zone_excursion", "zone:kuehl", "cleared") in room.alarms()  # the new run clears the old alarm
    await second.record_corrective_action(2, "discarded", "ben")
    assert room.status(2) == ("empty", None) and room.status(1)[0] == "blocked"


async def test_a_status_another_flow_set_while_blocked_is_not_overwritten(room: ColdRoom) -> None:
    from station.compartments import contents

    service = await blocked_by_probe_failure(room)
    # e.g. a volunteer cleared the compartment while it was blocked
    await room.db.write(lambda s: contents.remove_all(s, 1, actor="volunteer:1", reason="damaged"))
    room.fridge("k1").clear_faults()
    await room.run(service, POLL_S)
    await service.record_corrective_action(1, "kept", "anna", reason="door was opened for a paid sale", measured_c=3.0)
    assert room.status(1) == ("empty", None)  # not "loaded" from before the block
    assert not await service.is_sale_blocked(1)
