"""Reports for volunteers: the end-of-day report (sent to the platform daily and on request)."""

from .endofday import EVENT, ProbeOfZone, report
from .service import EndOfDayReports, zone_probes

__all__ = ["EVENT", "EndOfDayReports", "ProbeOfZone", "report", "zone_probes"]
