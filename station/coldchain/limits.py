"""Temperature limits: the reference table per product class, zone limits, and the stricter of both.

hardware.md §2.5 (not legal advice): fresh meat +7 °C, fresh poultry +4 °C, packaged minced meat from an
EU plant +2 °C (binding), quick-frozen food −18 °C with brief rises to −15 °C tolerated in retail cabinets.
A compartment's limit is the stricter of its zone's limit and the strictest product class loaded in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.fridge import ZoneConfig

# class -> (limit, tolerated brief-rise ceiling); ambient has no limit (not perishable)
CLASS_LIMITS: dict[str, tuple[float, float | None]] = {
    "chilled": (7.0, None),
    "poultry": (4.0, None),
    "minced": (2.0, None),
    "frozen": (-18.0, -15.0),
}
AMBIENT = "ambient"


@dataclass(frozen=True)
class Thresholds:
    """When a temperature signal becomes an alarm (see `excursion.ExcursionTracker`)."""

    limit_c: float
    tolerated_c: float | None  # brief-rise ceiling above limit_c (frozen), or None
    delay_s: float
    door_extra_s: float
    defrost_extra_s: float
    tolerated_max_s: float
    source: str  # what set the limit: "zone:<name>" or "class:<class>"

    @property
    def ceiling_c(self) -> float:
        """Highest temperature at which goods may stay on sale (limit, or the tolerated rise)."""
        return self.tolerated_c if self.tolerated_c is not None else self.limit_c


def is_perishable(temperature_class: str) -> bool:
    return temperature_class != AMBIENT


def zone_thresholds(name: str, zone: ZoneConfig) -> Thresholds | None:
    """The zone's own limit (config, else the class table); None for an ambient zone without a limit."""
    default_limit, default_tolerated = CLASS_LIMITS.get(zone.temperature_class, (None, None))
    limit = zone.limit_c if zone.limit_c is not None else default_limit
    if limit is None:
        return None
    tolerated = zone.tolerated_rise_c if zone.tolerated_rise_c is not None else default_tolerated
    if tolerated is not None and tolerated < limit:  # a stricter configured limit below the class's rise
        tolerated = None
    return _thresholds(zone, limit, tolerated, f"zone:{name}")


def class_limit(temperature_class: str) -> tuple[float, float | None] | None:
    """(limit, tolerated ceiling) of a product class; None for ambient.

    An unknown class is perishable with no table entry: the caller applies the zone's limit.
    """
    if not is_perishable(temperature_class):
        return None
    return CLASS_LIMITS.get(temperature_class)


def compartment_thresholds(zone_name: str, zone: ZoneConfig, classes: set[str]) -> Thresholds | None:
    """Thresholds for a compartment of `zone` holding products of `classes`; None if nothing perishable."""
    perishable = {c for c in classes if is_perishable(c)}
    if not perishable:
        return None
    base = zone_thresholds(zone_name, zone)
    strictest: tuple[float, float | None, str] | None = None
    for cls in sorted(perishable):
        limits = class_limit(cls)
        if limits is not None and (strictest is None or limits[0] < strictest[0]):
            strictest = (limits[0], limits[1], cls)
    if base is None and strictest is None:
        # Perishable goods of an unknown class in an ambient zone: nothing to compare with; use chilled.
        strictest = (*CLASS_LIMITS["chilled"], "chilled")
    if strictest is None or (base is not None and base.limit_c <= strictest[0]):
        assert base is not None
        return base
    limit, tolerated, cls = strictest
    return _thresholds(zone, limit, tolerated, f"class:{cls}")


def _thresholds(zone: ZoneConfig, limit: float, tolerated: float | None, source: str) -> Thresholds:
    """A zone's delays with the given limits."""
    return Thresholds(
        limit_c=limit,
        tolerated_c=tolerated,
        delay_s=zone.alarm_delay_s,
        door_extra_s=zone.door_extra_delay_s,
        defrost_extra_s=zone.defrost_extra_delay_s,
        tolerated_max_s=zone.tolerated_rise_max_s,
        source=source,
    )
