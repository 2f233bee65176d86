"""Cold-chain scenarios against the simulated controllers over a real pty, on a manual clock."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from station.coldchain import sale_blocked, transitions
from station.compartments import offers
from station.db.haccp_models import HaccpRecord
from tests.coldchain.conftest import POLL_S, ColdRoom

BLOCKED = "blocked"


def longest_above(temps: list[float], limit: float) -> int:
    """Longest run of consecutive polls above `limit`, in seconds."""
    run = longest = 0
    for c in temps:
        run = run + POLL_S if c > limit else 0
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize(
    ("defrost_s", "defrost_extra_s", "alarm"),
    [
        (720, 0, False),  # a peak shorter than the delay: nothing, even without a defrost allowance
        (None, 1800, False),  # the controller's 20-minute defrost: longer than the delay, absorbed by the allowance
        (None, 0, True),  # the same peak without the defrost allowance is an alarm (so the allowance is what works)
    ],
)
async def test_defrost_peak(room: ColdRoom, defrost_s: float | None, defrost_extra_s: float, alarm: bool) -> None:
    service = await room.service(zones={"kuehl2": {"defrost_extra_delay_s": defrost_extra_s}})
    await room.run(service, 1200)
    await room.run_until(service, lambda: room.fridge("k2").air_c >= 5.5, 3600)  # a defrost at the warm end
    room.fridge("k2").start_defrost(defrost_s)
    temps = []
    for _ in range(75):
        await room.run(service, POLL_S)
        temps.append(service.fridges["k2"].last_reading.product_celsius)  # type: ignore[union-attr]
    peak = longest_above(temps, 7.0)
    assert peak > 0 and max(temps) > 7.0  # the peak really went beyond the +7 °C limit
    assert (peak < 900) if defrost_s else (900 < peak < 900 + 1800)
    if alarm:
        assert room.status(6)[0] == BLOCKED  # and stays so after the peak, until a corrective action
        assert [p["subject"] for _, p in room.events("alarm.raised")] == ["zone:kuehl2", "compartment:6"]
    else:
        assert room.alarms() == []
        assert room.status(6) == ("loaded", None)
    flags = room.db.run_sync(
        lambda s: list(s.scalars(select(HaccpRecord.status).where(HaccpRecord.fridge == "k2"))), write=False
    )
    assert any(f and "defrost" in f for f in flags)  # the HACCP log shows why the peak was tolerated


async def test_compressor_failure_blocks_the_affected_compartments_within_the_delay_plus_one_poll(
    room: ColdRoom,
) -> None:
    service = await room.service()
    await room.run(service, 600)
    room.fridge("k1").fail_compressor()
    first_above: dict[float, float] = {}
    blocked_at: dict[int, float] = {}
    while 1 not in blocked_at:
        await room.run(service, POLL_S)
        now, celsius = room.clock(), service.fridges["k1"].last_reading.product_celsius  # type: ignore[union-attr]
        for limit in (2.0, 7.0):
            if celsius is not None and celsius > limit:
                first_above.setdefault(limit, now)
        for compartment in (1, 2):
            if compartment not in blocked_at and room.status(compartment)[0] == BLOCKED:
                blocked_at[compartment] = now
        assert len(first_above) == 0 or now - min(first_above.values()) < 4 * 3600
    # Minced meat (+2 °C) is blocked first, the milk (+7 °C, the zone's limit) later; each after delay + one poll.
    assert first_above[2.0] + 900 < blocked_at[2] <= first_above[2.0] + 900 + POLL_S
    assert first_above[7.0] + 900 < blocked_at[1] <= first_above[7.0] + 900 + POLL_S
    assert room.status(3) == ("empty", None)  # nothing to sell
    assert room.status(4) == ("loaded", None)  # jam: not perishable
    assert room.status(6) == ("loaded", None) and room.status(5) == ("loaded", None)  # other fridges are fine
    for compartment in (1, 2):
        _status, reason = room.status(compartment)
        assert reason is not None and reason.startswith("cold_chain:")
        assert await service.is_sale_blocked(compartment)
        assert room.db.run_sync(lambda s, c=compartment: sale_blocked(s, c), write=False)
    for compartment in (3, 4, 5, 6, 7):
        assert not await service.is_sale_blocked(compartment)
    # The purchase flow sells only what `stock.offers` lists (in the transaction that reserves it).
    on_sale = room.db.run_sync(lambda s: sorted(o.compartment for o in offers(s)), write=False)
    assert on_sale == [4, 5, 6, 7]
    assert room.alarms() == [
        ("coldchain.excursion", "compartment:2", "raised"),
        ("coldchain.zone_excursion", "zone:kuehl", "raised"),
        ("coldchain.excursion", "compartment:1", "raised"),
    ]
    raised = [p["subject"] for _, p in room.events("alarm.raised")]
    assert raised == ["compartment:2", "zone:kuehl", "compartment:1"]
    blocks = [
        (p["compartment"], p["limit_c"], p["limit_source"], p["cause"])
        for _, p in room.events("coldchain.compartment_blocked")
    ]
    assert blocks == [(2, 2.0, "class:minced", "temperature"), (1, 7.0, "zone:kuehl", "temperature")]
    audits = [p["action"] for _, p in room.events("audit")]
    assert audits == ["coldchain.zone_excursion"]  # the blocks' audit ids travel in their own events
    assert all(isinstance(p["audit_id"], int) for _, p in room.events("coldchain.compartment_blocked"))
    assert service.health().status == "degraded"
    assert service.health().detail["blocked_compartments"] == [1, 2]


async def test_a_silent_controller_counts_as_an_excursion_and_the_others_are_still_polled(room: ColdRoom) -> None:
    service = await room.service(zones={"kuehl2": {"alarm_delay_s": 300}})
    await room.run(service, 2 * POLL_S)
    room.fridge("k2").faults.silent = True
    await room.run(service, POLL_S)
    silent_since = room.clock()
    took = await room.run_until(service, lambda: room.status(6)[0] == BLOCKED, 1800)
    assert 300 < took <= 300 + POLL_S
    for name in ("k1", "tk1"):  # read in every one of those cycles
        assert service.fridges[name].last_reading.at == room.clock()  # type: ignore[union-attr]
    assert service.fridges["k2"].last_reading.at < silent_since  # type: ignore[union-attr]
    (zone_alarm,) = [p for _, p in room.events("alarm.raised") if p["subject"] == "zone:kuehl2"]
    assert zone_alarm["details"]["cause"] == "unknown" and "k2: no answer" in zone_alarm["details"]["unknown"]
    health = service.health()
    assert health.status == "degraded"
    assert health.detail["controllers"]["k2"]["available"] is False
    assert health.detail["controllers"]["k1"]["available"] is True
    assert health.detail["controllers"]["k1"]["celsius"] is not None
    samples = room.db.run_sync(
        lambda s: s.execute(
            select(HaccpRecord.value_dc, HaccpRecord.status).where(
                HaccpRecord.fridge == "k2", HaccpRecord.kind == "sample"
            )
        ).all(),
        write=False,
    )
    assert (None, "no_answer") in samples  # the log shows the gap instead of skipping it
    room.fridge("k2").faults.silent = False
    await room.run(service, 2 * POLL_S)
    assert ("coldchain.zone_excursion", "zone:kuehl2", "cleared") in room.alarms()
    assert room.status(6)[0] == BLOCKED  # recovery alone does not release the goods


async def test_a_failed_product_probe_counts_as_an_excursion(room: ColdRoom) -> None:
    service = await room.service()
    await room.run(service, POLL_S)
    room.fridge("tk1").fail_probe("probe1", "open")
    await room.run(service, POLL_S)  # the first reading without a product temperature
    took = await room.run_until(service, lambda: room.status(5)[0] == BLOCKED, 3600)
    assert 900 < took <= 900 + POLL_S
    (block,) = [p for _, p in room.events("coldchain.compartment_blocked")]
    assert block["compartment"] == 5 and block["cause"] == "unknown"
    assert "probe probe1 failed" in block["unknown"]
    assert (block["limit_c"], block["ceiling_c"]) == (-18.0, -15.0)


async def test_goods_loaded_into_a_fridge_already_in_alarm_are_blocked_at_once(room: ColdRoom) -> None:
    service = await room.service(zones={"kuehl2": {"alarm_delay_s": 300}})
    room.fridge("k2").faults.silent = True
    await room.run_until(service, lambda: room.status(6)[0] == BLOCKED, 1800)

    def load(session) -> None:  # type: ignore[no-untyped-def]
        from station.db.models import CompartmentContent, Product
        from station.db.types import utcnow

        milk = session.scalar(select(Product).where(Product.name == "milk"))
        session.add(
            CompartmentContent(compartment_id=8, product_id=milk.id, quantity=1, loaded_by="v:1", loaded_at=utcnow())
        )

    await room.db.write(load)
    await room.run(service, POLL_S)
    assert room.status(8)[0] == BLOCKED


async def test_the_running_service_polls_on_its_own_and_reports_health(room: ColdRoom) -> None:
    service = await room.service(run_loops=True)
    for _ in range(200):
        if service.progress() is not None:
            break
        await asyncio.sleep(0.02)
    assert service.progress() is not None  # one full poll cycle done by the loop
    await asyncio.sleep(0.1)
    progress = service.progress()
    assert progress is not None and time.monotonic() - progress < 0.05  # on schedule: the next poll is 60 s away
    service._due = {name: due - 200 for name, due in service._due.items()}  # as if the next cycle hung
    assert time.monotonic() - service.progress() > 0.1  # type: ignore[operator]
    controllers = service.health().detail["controllers"]
    assert set(controllers) == {"k1", "tk1", "k2"}
    assert all(c["available"] and c["celsius"] is not None for c in controllers.values())
    assert controllers["tk1"]["celsius"] < -18
    assert service.health().status == "up"


def excursion_rows(room: ColdRoom) -> dict[str, dict[str, float]]:
    return room.db.run_sync(transitions.excursion_starts, write=False)


async def test_a_restart_during_an_excursion_does_not_restart_its_delay(room: ColdRoom) -> None:
    """The daemon restarted (watchdog, power flicker) 10 minutes into an excursion: the compartment is still
    blocked 15 minutes after the excursion began, not 15 minutes after the restart."""
    service = await room.service()
    await room.run(service, 600)
    room.fridge("k1").fail_compressor()
    await room.run_until(service, lambda: room.status(2)[0] == BLOCKED, 4 * 3600)  # minced (+2 °C) goes first
    product = service.fridges["k1"]
    await room.run_until(service, lambda: product.last_reading.product_celsius > 7.0, 4 * 3600)  # type: ignore[union-attr]
    beyond_since = room.clock()
    await room.run(service, 600)
    assert room.status(1) == ("loaded", None)  # 600 s of the 900 s delay have passed
    assert excursion_rows(room)["kuehl"] == {"zone": beyond_since, "1": beyond_since}
    await service.stop()

    restarted = await room.service()
    took = await room.run_until(restarted, lambda: room.status(1)[0] == BLOCKED, 1800)
    assert beyond_since + 900 < room.clock() <= beyond_since + 900 + POLL_S  # not restart + 900
    assert took <= 300 + POLL_S
    assert excursion_rows(room)["kuehl"] == {"zone": beyond_since}  # a blocked compartment needs no timer

    room.fridge("k1").fail_compressor(False)  # repaired: the zone recovers, the excursion is over
    await room.run_until(restarted, lambda: "kuehl" not in excursion_rows(room), 4 * 3600)
    assert ("coldchain.zone_excursion", "zone:kuehl", "cleared") in room.alarms()
