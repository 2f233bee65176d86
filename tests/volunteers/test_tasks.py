"""The task list is a read of the current state: each source, the order, and a source added from outside."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from station import catalogue, tasks
from station.clock import start_of_day
from station.compartments import owner
from station.compartments.contents import load, remove_all
from station.config import CompartmentConfig
from station.db.engine import Database
from station.journal import clear_alarm, raise_alarm
from station.tasks import DeviceState, Task, TaskContext, open_tasks
from tests.volunteers.conftest import BERLIN

TODAY = date(2026, 12, 22)
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=BERLIN)


def _context(**kw: object) -> TaskContext:
    return TaskContext(now=NOW, today=TODAY, tz=BERLIN, **kw)  # type: ignore[arg-type]


def _stock(session: Session) -> None:
    owner.sync_configured(session, [CompartmentConfig(id=c, bus="w", board=0, lock=c) for c in range(1, 7)])
    catalogue.set_catalogue(session, [
        catalogue.ProductData("4006381333931", "Hofmilch", 149, temperature_class="chilled"),
        catalogue.ProductData("4001234567890", "Brot", 420),
        catalogue.ProductData("4012345678901", "Honig", 690, past_best_before_price_cents=345),
    ], replace=False, actor="test")  # fmt: skip
    load(session, 1, "4006381333931", 1, use_by=TODAY + timedelta(days=1), actor="volunteer:2")  # tomorrow
    load(session, 2, "4001234567890", 1, best_before=TODAY, actor="volunteer:2")  # today: still fine
    load(session, 3, "4001234567890", 1, best_before=TODAY + timedelta(days=9), actor="volunteer:2")  # no task
    load(session, 4, "4012345678901", 1, best_before=TODAY - timedelta(days=2), actor="volunteer:2")  # reduced


def test_every_source_and_the_order(db: Database) -> None:
    db.run_sync(_stock)
    db.run_sync(lambda s: (raise_alarm(s, "door.left_open", "compartment:5"),
                           raise_alarm(s, "coldchain.zone_excursion", "zone:chilled", severity="critical"),
                           owner.needs_check(s, 6, "door opened without an unlock command")))
    devices = [DeviceState("terminal", "down"), DeviceState("lockwall", "up"), DeviceState("coldchain", "degraded")]
    found = db.run_sync(lambda s: open_tasks(s, _context(devices=devices)), write=False)
    assert [(t.code, t.where, t.severity) for t in found] == [
        ("coldchain.zone_excursion", "Kühlzone chilled", "critical"),
        ("device.down", "Kartenterminal", "critical"),
        ("door.left_open", "Fach 5", "warning"),
        ("compartment.needs_check", "Fach 6", "warning"),
        ("goods.best_before_soon", "Fach 2", "info"),  # since yesterday (one warning day before today)
        ("goods.marked_down", "Fach 4", "info"),  # since yesterday (the day after its best-before)
        ("goods.use_by_soon", "Fach 1", "info"),  # since today (one warning day before tomorrow)
    ]
    by_code = {t.code: t for t in found}
    assert by_code["goods.use_by_soon"].since == start_of_day(TODAY, BERLIN)
    assert by_code["goods.marked_down"].what == "Honig: über dem MHD, reduziert im Verkauf bis 23.12.2026"
    assert by_code["compartment.needs_check"].what == "Tür wurde ohne Freigabe geöffnet – Inhalt unbekannt"

    # Done things close their tasks: the alarm cleared, the goods taken out.
    db.run_sync(lambda s: (clear_alarm(s, "door.left_open", "compartment:5"),
                           remove_all(s, 4, actor="volunteer:2", reason="expired")))
    codes = {t.code for t in db.run_sync(lambda s: open_tasks(s, _context()), write=False)}
    assert "door.left_open" not in codes and "goods.marked_down" not in codes and "device.down" not in codes


def test_a_day_later_the_goods_tasks_turn_urgent(db: Database) -> None:
    db.run_sync(_stock)
    later = TaskContext(now=NOW + timedelta(days=2), today=TODAY + timedelta(days=2), tz=BERLIN)
    found = {t.compartment: t for t in db.run_sync(lambda s: open_tasks(s, later), write=False) if t.compartment}
    assert (found[1].code, found[1].severity) == ("goods.use_by_reached", "critical")
    assert found[2].code == "goods.best_before_passed"
    assert 3 not in found  # still seven days to go
    assert found[4].code == "goods.best_before_passed"  # four days past: its three reduced days are over


def test_only_goods_dated_up_to_the_warning_horizon_are_read(db: Database) -> None:
    """The volunteers' screen polls the list: goods far from their dates cost the database no row."""
    db.run_sync(_stock)
    soon = TODAY + timedelta(days=1)
    rows = db.run_sync(lambda s: s.execute(tasks._GOODS, {"soon": soon}).all(), write=False)
    assert [row[0] for row in rows] == [1, 2, 4]  # compartment 3's best-before is nine days away
    later = db.run_sync(lambda s: s.execute(tasks._GOODS, {"soon": soon + timedelta(days=8)}).all(), write=False)
    assert [row[0] for row in later] == [1, 2, 3, 4]


def test_a_feature_adds_its_own_source(db: Database) -> None:
    """The pick-up work registers uncollected orders like this."""

    def uncollected(_session: Session, ctx: TaskContext) -> Iterable[Task]:
        yield Task("order.uncollected", "order:ORD-1", "Fach 9", "Bestellung seit 3 Tagen nicht abgeholt",
                   "Zurück an den Lieferanten", ctx.now - timedelta(days=3))

    tasks.register_source(uncollected)
    try:
        found = db.run_sync(lambda s: open_tasks(s, _context()), write=False)
        assert [t.code for t in found] == ["order.uncollected"]
    finally:
        tasks._SOURCES.remove(uncollected)
