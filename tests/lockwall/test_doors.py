"""Door supervision against the CU16 simulator over a real pty."""

from __future__ import annotations

import pytest

from station.compartments.owner import sync_configured as sync_compartments
from station.lockwall import DoorOutcome, doors
from tests.lockwall.conftest import Wall


async def test_open_is_confirmed_then_tracked_to_close(wall: Wall) -> None:
    service = await wall.service()
    seen: list[tuple[int, str]] = []
    service.subscribe(lambda comp, what: seen.append((comp, what)))
    result = await service.open(17, "sale", "sale-1")
    assert result.outcome is DoorOutcome.OPENED
    assert wall.sim.unlock_requests(1) == 1
    assert wall.operations() == [(17, "opened", 1)]
    await wall.until(lambda: seen == [(17, "opened"), (17, "closed")])
    assert wall.operations() == [(17, "closed", 1)]
    assert wall.events() == ["door.opened", "door.closed"]  # the audit ids travel inside the events
    assert wall.alarms() == []


async def test_quick_open_and_close_between_two_polls_is_still_confirmed(wall: Wall) -> None:
    service = await wall.service(poll_hz=0.5)
    wall.sim.set_lock_faults(0, 1, open_delay_s=0.05, close_after_s=0.15)
    result = await service.open(1, "sale", "quick")
    assert result.outcome is DoorOutcome.OPENED
    assert wall.sim.unlock_requests(0) == 1
    await wall.until(lambda: wall.operations() == [(1, "closed", 1)], within=5)


async def test_jammed_lock_gets_one_retry_then_an_alarm(wall: Wall) -> None:
    service = await wall.service(open_detect_s=0.4)
    wall.sim.set_lock_faults(0, 2, jammed=True)
    result = await service.open(2, "pickup", "order-7")
    assert result.outcome is DoorOutcome.NOT_OPENED
    assert wall.sim.unlock_requests(0) == 2  # exactly one retry, after the read-back showed it locked
    assert wall.operations() == [(2, "failed", 2)]
    assert wall.alarms() == [("door.open_not_detected", "compartment:2", "raised")]
    assert "door.failed" in wall.events()


async def test_broken_sensor_reading_open_does_not_block_the_unlock(wall: Wall) -> None:
    service = await wall.service()
    wall.sim.set_lock_faults(2, 1, sensor="stuck_unlocked")
    result = await service.open(33, "restock", "round-3")
    assert wall.sim.unlock_requests(2) >= 1  # the pulse went out although the sensor says "open"
    assert result.outcome is DoorOutcome.OPENED


async def test_door_opened_without_command_is_a_tamper_alarm(wall: Wall) -> None:
    await wall.service()
    wall.sim.set_lock_faults(1, 2, auto_close=False)
    wall.sim.open_door(1, 2)
    await wall.until(lambda: ("door.tamper", "compartment:18", "raised") in wall.alarms())
    assert wall.sim.unlock_requests() == 0
    assert wall.door_state(18) == "open"
    wall.sim.close_door(1, 2)
    await wall.until(lambda: wall.door_state(18) == "closed")
    # Raised once each: the tamper alarm, and the check the contents now need (not offered until then).
    raised = [a for a in wall.alarms() if a[1] == "compartment:18"]
    assert raised == [("door.tamper", "compartment:18", "raised"), ("compartment.needs_check", "compartment:18",
                                                                    "raised")]
    assert wall.events().count("alarm.raised") == 2
    assert wall.compartment(18) == "needs_check"


async def test_door_left_open_raises_an_alarm_and_clears_on_close(wall: Wall) -> None:
    service = await wall.service(left_open_s=0.3)
    wall.sim.set_lock_faults(0, 1, auto_close=False)
    assert (await service.open(1, "maintenance", "INC-4")).outcome is DoorOutcome.OPENED
    await wall.until(lambda: ("door.left_open", "compartment:1", "raised") in wall.alarms())
    wall.sim.close_door(0, 1)
    await wall.until(lambda: ("door.left_open", "compartment:1", "cleared") in wall.alarms())
    assert wall.operations() == [(1, "closed", 1)]


async def test_one_dead_board_does_not_stop_the_others_and_recovers(wall: Wall) -> None:
    wall.sim.set_board_faults(1, dead=True)
    service = await wall.service()
    assert service.unavailable_compartments() == [17, 18]
    assert service.health().status == "degraded"
    assert (await service.open(2, "sale", "s-2")).outcome is DoorOutcome.OPENED
    assert (await service.open(34, "sale", "s-34")).outcome is DoorOutcome.OPENED
    wall.sim.clear_faults(1)
    await wall.until(lambda: service.unavailable_compartments() == [], within=10)
    assert (await service.open(17, "sale", "s-17")).outcome is DoorOutcome.OPENED


async def test_restart_while_open_sends_no_second_pulse_and_tracks_the_close(wall: Wall) -> None:
    first = await wall.service()
    wall.sim.set_lock_faults(0, 1, auto_close=False)
    assert (await first.open(1, "sale", "s-1")).outcome is DoorOutcome.OPENED
    await first.stop()
    wall.services.remove(first)

    second = await wall.service()
    assert wall.sim.unlock_requests(0) == 1
    assert wall.operations() == [(1, "opened", 1)]
    assert wall.alarms() == []  # the open door is ours, not a tamper case
    wall.sim.close_door(0, 1)
    await wall.until(lambda: wall.operations() == [(1, "closed", 1)])
    assert wall.sim.unlock_requests(0) == 1
    assert second.health().detail["open_doors"] == []


def _crashed_after_pulse(wall: Wall, compartment: int, state: doors.DoorState = doors.DoorState.PULSE_SENT):
    """The last run committed the intent (and maybe the pulse) and died before any opening was seen."""

    def write(session) -> None:
        sync_compartments(session, wall.make_config().compartments)
        op_id = doors.create(session, compartment, "sale", "s-9", "system")
        if state is not doors.DoorState.REQUESTED:
            doors.move(session, op_id, doors.DoorState.PULSE_SENT)
        if state is doors.DoorState.NOT_DETECTED:
            doors.move(session, op_id, doors.DoorState.NOT_DETECTED)

    return write


@pytest.mark.parametrize("state", [doors.DoorState.REQUESTED, doors.DoorState.PULSE_SENT,
                                   doors.DoorState.NOT_DETECTED])
async def test_restart_after_an_unwatched_pulse_is_maybe_opened_never_nothing(wall: Wall, state) -> None:
    """Crash after the intent: shut now and no item sensor → maybe_opened (never 'abandoned'); no pulse."""
    await wall.db.write(_crashed_after_pulse(wall, 2, state))
    await wall.service()
    await wall.until(lambda: [op[1] for op in wall.operations()] == ["maybe_opened"])
    assert wall.sim.unlock_requests() == 0
    assert "door.maybe_opened" in wall.events()


@pytest.mark.parametrize(("item_present", "expected"), [(True, "untouched"), (False, "closed")])
async def test_restart_after_pulse_is_settled_by_the_item_sensor(wall: Wall, item_present: bool,
                                                                 expected: str) -> None:
    """Where the board has item sensors, they tell whether the goods left while nobody watched."""
    wall.sim.board(0).item_sensors = True
    wall.sim.set_lock_faults(0, 2, item_present=item_present)
    await wall.db.write(_crashed_after_pulse(wall, 2))
    await wall.service(item_sensors=True)
    await wall.until(lambda: [op[1] for op in wall.operations()] == [expected])
    assert wall.sim.unlock_requests() == 0


async def test_restart_with_the_door_open_after_an_unwatched_pulse_tracks_it(wall: Wall) -> None:
    wall.sim.set_lock_faults(0, 2, auto_close=False)
    wall.sim.open_door(0, 2)
    await wall.db.write(_crashed_after_pulse(wall, 2))
    await wall.service()
    await wall.until(lambda: [op[1] for op in wall.operations()] == ["opened"])
    wall.sim.close_door(0, 2)
    await wall.until(lambda: [op[1] for op in wall.operations()] == ["closed"])
    assert wall.sim.unlock_requests() == 0


@pytest.mark.parametrize("reason", ["", "because"])
async def test_unknown_reason_is_refused(wall: Wall, reason: str) -> None:
    service = await wall.service()
    with pytest.raises(ValueError, match="unknown reason"):
        await service.open(1, reason)
    assert wall.operations() == []


async def test_opening_a_door_still_open_from_an_earlier_opening_sends_no_pulse(wall: Wall) -> None:
    """The earlier operation keeps tracking the door; the new one fails without a pulse, and the close ends the
    earlier one (not the new one, which would then be moved on from `closed`)."""
    service = await wall.service()
    wall.sim.set_lock_faults(0, 1, auto_close=False)
    assert (await service.open(1, "maintenance", "first")).outcome is DoorOutcome.OPENED
    second = await service.open(1, "sale", "second")
    assert second.outcome is DoorOutcome.UNAVAILABLE and "still open" in second.detail
    assert wall.sim.unlock_requests(0) == 1
    wall.sim.close_door(0, 1)
    await wall.until(lambda: sorted(wall.operations()) == [(1, "closed", 1), (1, "failed", 0)])
    assert not service.is_open(1)
    assert (await service.open(1, "sale", "third")).outcome is DoorOutcome.OPENED
