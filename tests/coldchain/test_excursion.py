"""Limits per product class and zone, and the excursion rules (delay, hysteresis, defrost/door, frozen bands)."""

from __future__ import annotations

import pytest

from station.coldchain.excursion import RESET_HYSTERESIS_K, ExcursionTracker, Level, Signal
from station.coldchain.limits import compartment_thresholds, zone_thresholds
from station.config.fridge import ZoneConfig


def zone(cls: str, **kw: float) -> ZoneConfig:
    return ZoneConfig(temperature_class=cls, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "limit", "ceiling"),
    [("chilled", 7.0, 7.0), ("poultry", 4.0, 4.0), ("minced", 2.0, 2.0), ("frozen", -18.0, -15.0)],
)
def test_zone_limits_default_from_the_reference_table(cls: str, limit: float, ceiling: float) -> None:
    t = zone_thresholds("z", zone(cls))
    assert t is not None and (t.limit_c, t.ceiling_c, t.source) == (limit, ceiling, "zone:z")
    assert t.delay_s == 900 and t.defrost_extra_s == 1800 and t.door_extra_s == 600


def test_ambient_has_no_limit_unless_configured_and_a_configured_limit_wins() -> None:
    assert zone_thresholds("a", zone("ambient")) is None
    assert zone_thresholds("a", zone("ambient", limit_c=25)).limit_c == 25  # type: ignore[union-attr]
    custom = zone_thresholds("t", zone("frozen", limit_c=-20, tolerated_rise_c=-17))
    assert custom is not None and (custom.limit_c, custom.ceiling_c) == (-20, -17)
    with pytest.raises(ValueError, match="tolerated_rise_c"):
        zone("frozen", limit_c=-18, tolerated_rise_c=-19)


def test_a_compartment_gets_the_stricter_of_zone_and_strictest_product_class() -> None:
    chilled = zone("chilled")
    assert compartment_thresholds("k", chilled, {"ambient"}) is None  # nothing perishable: not supervised
    assert compartment_thresholds("k", chilled, {"chilled", "ambient"}).source == "zone:k"  # type: ignore[union-attr]
    minced = compartment_thresholds("k", chilled, {"chilled", "minced", "poultry"})
    assert minced is not None and (minced.limit_c, minced.source) == (2.0, "class:minced")
    frozen_in_chiller = compartment_thresholds("k", chilled, {"frozen"})
    assert frozen_in_chiller is not None and (frozen_in_chiller.limit_c, frozen_in_chiller.ceiling_c) == (-18, -15)
    cold_zone = zone("chilled", limit_c=1.0)  # a zone configured stricter than the product table
    assert compartment_thresholds("k", cold_zone, {"minced"}).limit_c == 1.0  # type: ignore[union-attr]
    unknown = compartment_thresholds("k", chilled, {"dairy"})  # unknown class: perishable, zone limit
    assert unknown is not None and unknown.limit_c == 7.0
    in_ambient = compartment_thresholds("a", zone("ambient"), {"poultry"})
    assert in_ambient is not None and in_ambient.limit_c == 4.0


def feed(
    tracker: ExcursionTracker, temps: list[float | None], step: float = 60.0, **flags: float | None
) -> list[Level]:
    return [tracker.update(Signal(i * step, c, **flags)).level for i, c in enumerate(temps)]  # type: ignore[arg-type]


def chilled_tracker(**kw: float) -> ExcursionTracker:
    t = zone_thresholds("k", zone("chilled", **kw))
    assert t is not None
    return ExcursionTracker(t)


def test_breach_only_after_the_delay_has_passed() -> None:
    levels = feed(chilled_tracker(), [5.0] + [7.5] * 18)  # beyond the limit from t=60
    assert levels[0] is Level.OK
    assert levels[1:17] == [Level.PENDING] * 16  # 0 .. 900 s beyond (exactly the delay is not longer than it)
    assert levels[17:] == [Level.BREACH, Level.BREACH]  # 960 s


def test_unknown_counts_as_an_excursion() -> None:
    tracker = chilled_tracker(alarm_delay_s=300)
    levels = feed(tracker, [4.0] + [None] * 7)
    assert levels[-2] is Level.PENDING and levels[-1] is Level.BREACH and tracker.last.cause == "unknown"


def test_noise_around_the_limit_does_not_restart_the_delay_but_a_real_return_does() -> None:
    tracker = chilled_tracker(alarm_delay_s=600)
    noisy = [7.2, 6.9, 7.1, 6.8, 7.3, 6.9, 7.1, 6.95, 7.2, 7.0, 7.1, 7.2]  # hovers at 7 °C, never 0.5 K below
    assert feed(tracker, noisy)[-1] is Level.BREACH
    back = chilled_tracker(alarm_delay_s=600)
    dip = 7.0 - RESET_HYSTERESIS_K
    assert Level.BREACH not in feed(back, [7.5] * 6 + [dip] + [7.5] * 6)


def test_a_breach_stays_latched_until_the_temperature_is_back() -> None:
    tracker = chilled_tracker(alarm_delay_s=120)
    assert feed(tracker, [8.0, 8.0, 8.0, 8.0, 6.8]) == [
        Level.PENDING,
        Level.PENDING,
        Level.PENDING,
        Level.BREACH,
        Level.BREACH,
    ]
    assert tracker.update(Signal(400, 6.4)).level is Level.OK


def test_defrost_extends_the_delay_once_so_a_stuck_defrost_still_alarms() -> None:
    # Defrost reported all the time (stuck heater): allowed = 900 + 1800 s, then a breach regardless.
    tracker = chilled_tracker()
    levels = [tracker.update(Signal(t, 9.0, last_defrost_at=t)).level for t in range(0, 2761, 60)]
    assert tracker.last.allowed_s == 2700
    assert levels[:46] == [Level.PENDING] * 46 and levels[-1] is Level.BREACH  # t=2760 > 2700
    # A defrost that ended within the extra delay before the excursion began counts too (post-defrost peak).
    after = chilled_tracker()
    after.update(Signal(0, 9.0, last_defrost_at=-1700))
    assert after.last.allowed_s == 2700
    long_ago = chilled_tracker()
    long_ago.update(Signal(0, 9.0, last_defrost_at=-1900))
    assert long_ago.last.allowed_s == 900


def test_a_door_opening_adds_its_own_extra_delay() -> None:
    tracker = chilled_tracker()
    tracker.update(Signal(0, 8.0, last_door_at=-30))
    assert tracker.last.allowed_s == 1500
    assert tracker.update(Signal(1500, 8.0, last_door_at=-30)).level is Level.PENDING
    assert tracker.update(Signal(1560, 8.0, last_door_at=-30)).level is Level.BREACH


def test_frozen_tolerates_a_brief_rise_to_minus_15_but_not_a_long_one_nor_above_it() -> None:
    frozen = zone_thresholds("t", zone("frozen"))
    assert frozen is not None
    brief = ExcursionTracker(frozen)
    assert Level.BREACH not in feed(brief, [-16.0] * 60 + [-19.0])  # 59 min at -16 °C: tolerated
    long = ExcursionTracker(frozen)
    assert feed(long, [-16.0] * 62)[-1] is Level.BREACH  # beyond 3600 s between -18 and -15
    warm = ExcursionTracker(frozen)
    assert feed(warm, [-14.0] * 17)[-1] is Level.BREACH  # above the ceiling: the normal 900 s delay


def test_a_seeded_tracker_starts_where_the_zone_excursion_started() -> None:
    t = zone_thresholds("k", zone("chilled"))
    assert t is not None
    tracker = ExcursionTracker(t, started_at=-1000)
    assert tracker.update(Signal(0, 9.0)).level is Level.BREACH
