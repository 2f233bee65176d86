"""The repro of issue #9: SIGKILL the moment the lock board receives the unlock frame.

The simulated shopper opens the door and shuts it while the daemon is down. Before the flow engine
the restart recovered the door as "abandoned" (it reads shut), reversed the sale with nothing
released, raised no alarm and offered the empty compartment again. Now: the door is maybe_opened,
the sale ends released_not_charged with its alarm, and the compartment needs a check, not offered.
With item sensors the board tells the truth instead: goods gone is a release.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.killloop.harness import Station


@pytest.mark.parametrize("item_sensors", [False, True], ids=["no item sensor", "item sensor"])
def test_kill_at_the_unlock_frame_door_opened_and_shut_while_down(tmp_path: Path, item_sensors: bool) -> None:
    station = Station(tmp_path, item_sensors=item_sensors)
    try:
        station.start_simulator()
        station.start_daemon()
        station.wait_ready()
        start = len(station.record())
        sale_id = station.http.post("/api/purchases", json={"compartments": [2]}).json()["sale_id"]
        station.wait_record(lambda e: e["event"] == "pulse" and e["compartment"] == 2, after=start)
        station.kill()  # the frame reached the board; nothing after it reached the database
        station.wait_record(lambda e: e["event"] == "door_closed" and e["compartment"] == 2, after=start)
        physical = [e["event"] for e in station.record()[start:] if e.get("compartment") == 2]
        assert physical[:3] == ["pulse", "door_opened", "door_closed"]

        station.start_daemon()
        station.wait_ready()
        sale = station.http.get(f"/api/purchases/{sale_id}").json()
        offered = [o["compartment"] for o in station.http.get("/api/offers").json()]
        alarms = station.query("SELECT kind, subject FROM alarms WHERE state = 'raised'")
        status = station.query("SELECT status FROM compartments WHERE id = 2")[0][0]
        door = station.query("SELECT state FROM door_operations WHERE reference = ?", sale_id)
        lines = station.query("SELECT state FROM sale_lines WHERE sale_id = ?", sale_id)
    finally:
        station.stop()
    charged = [e for e in station.record() if e["event"] == "terminal_booked"]
    assert sale["state"] == "released_not_charged" and sale["booked_cents"] == 0 and charged == []
    assert ("sale.released_not_charged", f"sale:{sale_id}") in alarms
    assert 2 not in offered  # the empty compartment is never sold again
    if item_sensors:  # the board's item sensor shows the goods gone: a release it can prove
        assert door == [("closed",)] and lines == [("released",)]
        assert status == "empty"
    else:  # nobody can tell: maybe opened, a person checks before it is sold again
        assert door == [("maybe_opened",)] and lines == [("maybe_released",)]
        assert status == "needs_check"
        assert ("compartment.needs_check", "compartment:2") in alarms
