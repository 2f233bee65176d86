"""Throttling of log-in attempts, persisted so that a restart does not reset it.

Each attempt is counted in every scope it belongs to: the PIN path per keypad (`keypad:<id>`) and
per account (`pin:<account>`); the badge path per reader (`reader:<name>`) and per account
(`badge:<account>`, a PIN typed after an operator's badge). The two paths are counted apart, so a
vandal typing PINs can lock the keypad but not the badge holders. Pick-up codes (station/pickup) use
the same policy: typed codes per keypad (`pickup-keypad:<id>`) and per station (`pickup-station:all`),
scanned tokens and customer cards apart (`pickup-scanner:<id>`, `reader:nfc-pickup`); their lock
raises `pickup.locked` instead of `staff.locked`.

Policy (safety-and-sync.md §5.3/5.4), per scope:
- every 5th failure in a row pauses the scope 1 minute; from the 10th on, 15 minutes;
- the 20th failure within 24 hours (a rolling window, so midnight opens no second allowance) locks it,
  raises an operator alarm (`staff.locked`), and only an operator lifts it (`station users unlock`,
  `POST /api/staff/locks/unlock`; a new PIN lifts the account's own lock);
- an attempt while paused or locked is refused before anything is checked and not counted;
- a success ends the run of failures (the 24-hour count stays).
So at most 20 PINs in any 24 hours reach the check per keypad and per account, and never more than
20 in a row (NIST SP 800-63B §5.2.2: at most 100).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.staff_models import StaffThrottle
from ..journal import audit, clear_alarm, raise_alarm

PAUSES = ((10, timedelta(minutes=15)), (5, timedelta(minutes=1)))  # (every n-th failure in a row from, pause)
PAUSE_EVERY = 5
DAILY_LOCK = 20
WINDOW = timedelta(hours=24)
ALARM = "staff.locked"
PICKUP_ALARM = "pickup.locked"  # the typed pick-up code path of a keypad or of the station


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is not checked now: paused until `until`, or locked (until an operator lifts it)."""

    scope: str
    locked: bool
    until: datetime | None

    def seconds_left(self, now: datetime) -> int:
        return 0 if self.until is None else max(1, int((self.until - now).total_seconds() + 0.999))

    def message(self, now: datetime) -> str:
        """The German sentence the screen shows."""
        path_is_badge = self.scope.startswith(("reader:", "badge:"))
        if self.scope.startswith("pickup"):
            if self.locked:
                return ("Die Code-Eingabe ist nach zu vielen falschen Abholcodes gesperrt. Bitte den QR-Code "
                        "scannen, die Kundenkarte auflegen oder den Betreiber anrufen.")
            return f"Zu viele falsche Abholcodes. Bitte in {wait_words(self.seconds_left(now))} erneut versuchen."
        if self.locked:
            if self.scope.startswith("keypad:"):
                return ("Die PIN-Eingabe ist nach zu vielen falschen Versuchen gesperrt. Bitte mit dem Ausweis "
                        "anmelden oder den Betreiber anrufen.")
            if path_is_badge:
                return "Die Anmeldung mit Ausweis ist gesperrt. Bitte den Betreiber anrufen."
            return ("Dieses Konto ist nach zu vielen falschen PINs gesperrt. Bitte mit dem Ausweis anmelden "
                    "oder den Betreiber anrufen.")
        return f"Zu viele falsche Versuche. Bitte in {wait_words(self.seconds_left(now))} erneut versuchen."


def wait_words(seconds: int) -> str:
    """45 → "45 Sekunden", 60 → "1 Minute", 61 → "2 Minuten" (rounded up: never sooner than said)."""
    if seconds < 60:
        return "1 Sekunde" if seconds == 1 else f"{seconds} Sekunden"
    minutes = -(-seconds // 60)
    return "1 Minute" if minutes == 1 else f"{minutes} Minuten"


def refusal(session: Session, scopes: Iterable[str], now: datetime) -> Refusal | None:
    """The strongest reason not to check this attempt now (locked before the longest pause), or None."""
    found: list[Refusal] = []
    for row in session.scalars(select(StaffThrottle).where(StaffThrottle.scope.in_(list(scopes)))):
        if row.locked_at is not None:
            found.append(Refusal(row.scope, True, None))
        elif row.paused_until is not None and row.paused_until > now:
            found.append(Refusal(row.scope, False, row.paused_until))
    if not found:
        return None
    locked = [r for r in found if r.locked]
    if locked:
        return locked[0]
    return max(found, key=lambda r: r.until or now)


def failed(session: Session, scopes: Iterable[str], now: datetime, *, alarm: str = ALARM) -> list[str]:
    """Count one failure in each scope; returns the scopes this failure locked (raising `alarm` for each)."""
    newly_locked = []
    for scope in scopes:
        row = session.get(StaffThrottle, scope)
        if row is None:
            row = StaffThrottle(scope=scope, consecutive=0, recent=[])
            session.add(row)
        recent = [*_within_window(row.recent, now), now.isoformat()]
        row.recent = recent  # a new list: the JSON column notices the change
        row.consecutive += 1
        row.last_failure_at = now
        if len(recent) >= DAILY_LOCK and row.locked_at is None:
            row.locked_at = now
            newly_locked.append(scope)
            raise_alarm(session, alarm, scope, severity="critical",
                        details={"failures_24h": len(recent), "in_a_row": row.consecutive})
            audit(session, alarm, scope, reason="too_many_failures", details={"failures_24h": len(recent)})
        elif row.consecutive % PAUSE_EVERY == 0:
            pause = next(p for threshold, p in PAUSES if row.consecutive >= threshold)
            row.paused_until = now + pause
    session.flush()
    return newly_locked


def _within_window(times: list[str], now: datetime) -> list[str]:
    return [t for t in times if datetime.fromisoformat(t) > now - WINDOW]


def succeeded(session: Session, scopes: Iterable[str]) -> None:
    """A successful log-in ends the run of failures in these scopes (not a lock, not the 24-hour count)."""
    for row in session.scalars(select(StaffThrottle).where(StaffThrottle.scope.in_(list(scopes)))):
        if row.consecutive or row.paused_until is not None:
            row.consecutive, row.paused_until = 0, None


def unlock(session: Session, scope: str, *, actor: str, reference: str | None = None) -> bool:
    """An operator lifts a lock or pause and forgives the recent failures; False when there was none."""
    row = session.get(StaffThrottle, scope)
    if row is None or (row.locked_at is None and row.paused_until is None and not row.consecutive and not row.recent):
        return False
    was_locked = row.locked_at is not None
    row.locked_at = row.paused_until = None
    row.consecutive, row.recent = 0, []
    clear_alarm(session, PICKUP_ALARM if scope.startswith("pickup") else ALARM, scope, details={"by": actor})
    audit(session, "staff.unlocked", scope, actor=actor, reference=reference, details={"was_locked": was_locked})
    return True


def states(session: Session, now: datetime) -> list[dict[str, object]]:
    """Every scope with failures, a pause or a lock (for operators)."""
    out = []
    for row in session.scalars(select(StaffThrottle).order_by(StaffThrottle.scope)):
        paused = row.paused_until is not None and row.paused_until > now
        recent = len(_within_window(row.recent, now))
        if not (row.consecutive or recent or paused or row.locked_at):
            continue
        out.append({
            "scope": row.scope, "in_a_row": row.consecutive, "failures_24h": recent,
            "paused_until": row.paused_until.isoformat() if paused and row.paused_until else None,
            "locked_since": row.locked_at.isoformat() if row.locked_at else None,
        })  # fmt: skip
    return out


def keypad_scope(keypad: str) -> str:
    return f"keypad:{keypad}"


def pin_scope(account_id: int) -> str:
    return f"pin:{account_id}"


def reader_scope(reader: str) -> str:
    return f"reader:{reader}"


def badge_scope(account_id: int) -> str:
    return f"badge:{account_id}"


def pickup_scopes(keypad: str) -> list[str]:
    """Typed pick-up codes count per keypad and per station (a guesser tries against all live codes at once)."""
    return [f"pickup-keypad:{keypad}", "pickup-station:all"]
