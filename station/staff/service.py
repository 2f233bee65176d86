"""StaffService: log-in by PIN, by badge (plus PIN for operators) or by enrolment code; sessions; log-out.

Every attempt first asks the throttle (`throttle.py`) whether it may be checked at all; a refused
attempt costs nothing and is not counted. A PIN check always runs one Argon2id hash, also for an
unknown account, so the time taken tells nothing. Sessions live in memory (token → session) after
their creation is committed; they end at log-out, after `session_idle_s` without a request, when
the account is disabled, and at every restart (recovery of the session flow).

Badge taps come from the NFC reader: the last tap is kept for `badge_tap_valid_s` and used by at
most one log-in. A UID typed over HTTP is accepted only on a simulated station (tests, demo): on
real hardware a badge log-in needs the card on the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from drivers.nfc import TagRead

from ..clock import Clock
from ..components import ComponentHealth, Status, cancel_tasks
from ..config import Config
from ..db.engine import Database
from ..flows.engine import check_recovery, recover
from ..nfcreader import NfcComponent
from . import accounts, sessions, throttle
from .accounts import Account, Role
from .errors import StaffError
from .pins import PinHasher, PinRejected, check_new_pin
from .secret import StationSecret, normalise_uid
from .sessions import SessionState

log = logging.getLogger(__name__)

READER = "nfc"  # the throttle scope name of the station's one reader
WRONG = "Kennnummer oder PIN stimmt nicht"


@dataclass
class LiveSession:
    """A logged-in person, as the API sees them."""

    id: int
    token_hash: str
    account: Account
    method: str
    keypad: str
    started_at: datetime
    last_seen: datetime

    @property
    def actor(self) -> str:
        return self.account.actor

    @property
    def role(self) -> Role:
        return self.account.role


@dataclass(frozen=True)
class LoginResult:
    token: str  # give it to the client once; only its SHA-256 is stored
    session: LiveSession


SessionEnded = Callable[[LiveSession, str], Awaitable[None]]


class StaffService:
    name = "staff"

    def __init__(self, config: Config, db: Database, clock: Clock, *, nfc: NfcComponent | None = None,
                 simulated: bool = False) -> None:
        self.settings = config.staff
        self.db, self.clock, self.nfc, self.simulated = db, clock, nfc, simulated
        self.secret = StationSecret(config.staff.secret_path(config.database.path))
        self.hasher = PinHasher(self.secret)
        self._sessions: dict[str, LiveSession] = {}
        self._tap: tuple[str, float] | None = None  # (uid, monotonic time of the tap)
        self._ended: list[SessionEnded] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        check_recovery(sessions.SESSION, self)
        left = await self.db.read(sessions.active)
        if left:
            log.info("a restart ends %d log-in sessions", len(left))
        await recover(left, sessions.SESSION, self)
        if self.nfc is not None:
            self._unsubscribe = self.nfc.subscribe(self._on_tap)
        self._tasks.append(asyncio.create_task(self._idle_loop(), name="staff-idle"))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await cancel_tasks(self._tasks)
        self._tasks = []
        for live in list(self._sessions.values()):  # a stop ends them now (a crash: recovery at the next start)
            try:
                await asyncio.wait_for(self._end(live, SessionState.EXPIRED, "station stopped"), 1.0)
            except Exception:  # storage failing at shutdown: recovery expires it at the next start
                log.warning("session %s not recorded as ended at stop", live.id)
        self.hasher.close()

    async def on_active(self, session_id: int) -> None:
        """Recovery: a session left active by the previous run is over."""
        await self.db.write_until_committed(
            partial(sessions.end, session_id=session_id, target=SessionState.EXPIRED, actor="system", why="restart"),
            what="session end",
        )

    def on_session_end(self, listener: SessionEnded) -> None:
        """listener(session, why) after a session's end is committed (restocking abandons what it left open)."""
        self._ended.append(listener)

    # -- badge taps ----------------------------------------------------------------------------------
    def _on_tap(self, tap: TagRead) -> None:
        self._tap = (tap.uid_hex, time.monotonic())

    def has_fresh_tap(self) -> bool:
        return self._fresh_tap() is not None

    def _fresh_tap(self) -> str | None:
        if self._tap is None or time.monotonic() - self._tap[1] > self.settings.badge_tap_valid_s:
            return None
        return self._tap[0]

    def consume_tap(self, uid: str) -> None:
        if self._tap is not None and self._tap[0] == uid:
            self._tap = None

    async def badge_uid(self, uid: str | None) -> str:
        """The UID to use: the reader's fresh tap, or (simulated stations only) one given over HTTP."""
        if uid is not None:
            if not self.simulated:
                raise StaffError("simulation_only", "Ein Ausweis zählt nur, wenn er auf dem Lesegerät liegt")
            try:
                return normalise_uid(uid)
            except ValueError:
                raise StaffError("invalid", "Das ist keine Ausweisnummer") from None
        found = self._fresh_tap()
        if found is None:
            raise StaffError("no_badge", "Bitte den Ausweis an das Lesegerät halten")
        return found

    # -- log-in ----------------------------------------------------------------------------------------
    def check_keypad(self, keypad: str) -> None:
        if keypad not in self.settings.keypads:
            raise StaffError("unknown_keypad", "Diese Eingabestelle ist an der Station nicht eingerichtet")

    async def _refuse_if_throttled(self, scopes: list[str]) -> None:
        now = self.clock.now()
        refusal = await self.db.read(lambda s: throttle.refusal(s, scopes, now))
        if refusal is not None:
            code = "locked" if refusal.locked else "throttled"
            raise StaffError(code, refusal.message(now), retry_after_s=refusal.seconds_left(now) or None)

    async def _failed(self, scopes: list[str]) -> None:
        now = self.clock.now()
        locked = await self.db.write_until_committed(lambda s: throttle.failed(s, scopes, now), what="throttle")
        for scope in locked:
            log.warning("log-in locked for %s after too many failures (operator alarm raised)", scope)

    async def login_pin(self, account_id: int, pin: str, keypad: str) -> LoginResult:
        """Kennnummer + PIN on the touchscreen (volunteers and couriers; operators need their badge too)."""
        self.check_keypad(keypad)
        scopes = [throttle.keypad_scope(keypad), throttle.pin_scope(account_id)]
        await self._refuse_if_throttled(scopes)
        found = await self.db.read(lambda s: accounts.pin_hash_of(s, account_id))
        account, stored = found if found is not None else (None, None)
        if account is not None and account.active and account.role is Role.OPERATOR:
            # Decided before the PIN is checked, so this answer says nothing about the PIN.
            raise StaffError("badge_required", "Betreiber melden sich mit Ausweis und PIN an")
        matched = await self.hasher.verify(stored, pin)
        if account is None or not account.active or not matched:
            await self._failed(scopes if account is not None else scopes[:1])
            raise StaffError("wrong_credentials", WRONG)
        return await self._open_session(account, "pin", keypad, scopes)

    async def login_badge(self, uid: str | None, pin: str | None, keypad: str) -> LoginResult:
        """A badge on the reader; operators add their PIN (a volunteer who types one has it checked too)."""
        self.check_keypad(keypad)
        reader = throttle.reader_scope(READER)
        await self._refuse_if_throttled([reader])
        uid = await self.badge_uid(uid)
        digest = await self.hasher.badge(uid)
        found = await self.db.read(lambda s: accounts.by_badge(s, digest))
        if found is None or not found[0].active:
            self.consume_tap(uid)
            await self._failed([reader])
            raise StaffError("unknown_badge", "Dieser Ausweis ist nicht freigeschaltet")
        account, stored = found
        scopes = [reader, throttle.badge_scope(account.id)]
        await self._refuse_if_throttled(scopes)
        if pin is None and account.role is Role.OPERATOR:
            raise StaffError("pin_required", "Bitte zusätzlich die PIN eingeben")  # the tap stays for the PIN
        self.consume_tap(uid)
        if pin is not None and not await self.hasher.verify(stored, pin):
            await self._failed(scopes)
            raise StaffError("wrong_credentials", "Die PIN stimmt nicht – bitte den Ausweis erneut auflegen")
        return await self._open_session(account, "badge+pin" if pin is not None else "badge", keypad, scopes)

    async def enrol(self, code: str, pin: str, keypad: str) -> LoginResult:
        """A one-time code from the platform becomes the person's PIN (and logs them in)."""
        self.check_keypad(keypad)
        scopes = [throttle.keypad_scope(keypad)]
        await self._refuse_if_throttled(scopes)
        digest = await self.hasher.enrolment(code)
        now = self.clock.now()
        account = await self.db.read(lambda s: accounts.by_enrolment(s, digest, now))
        if account is None or not account.active:
            await self._failed(scopes)
            raise StaffError("wrong_code", "Dieser Freischaltcode ist nicht (mehr) gültig")
        try:  # only now: a refused PIN must not tell a guesser anything, nor use the code up
            check_new_pin(pin)
        except PinRejected as exc:
            raise StaffError("weak_pin", str(exc)) from None
        pin_hash = await self.hasher.hash(pin)
        unlock = throttle.pin_scope(account.id)

        def also(session: Session) -> None:
            accounts.set_pin(session, account.id, pin_hash, actor=account.actor, how="enrolment")
            throttle.unlock(session, unlock, actor=account.actor)

        return await self._open_session(account, "enrolment", keypad, scopes, also=also)

    async def _open_session(self, account: Account, method: str, keypad: str, scopes: list[str],
                            also: Callable[[Session], None] | None = None) -> LoginResult:
        token = secrets.token_urlsafe(32)
        now = self.clock.now()

        def write(session: Session) -> int:
            if also is not None:
                also(session)
            throttle.succeeded(session, scopes)
            return sessions.start(session, account, token, method=method, keypad=keypad, now=now)

        session_id = await self.db.write(write)
        live = LiveSession(session_id, sessions.token_hash(token), account, method, keypad, now, now)
        self._sessions[live.token_hash] = live  # only now: the session exists on disk
        log.info("%s logged in (%s, %s)", account.actor, method, keypad)
        return LoginResult(token, live)

    # -- sessions ------------------------------------------------------------------------------------------
    async def authenticate(self, token: str | None) -> LiveSession:
        """The session of `token`, touched; 401 codes when there is none or it has been idle too long."""
        live = self._sessions.get(sessions.token_hash(token)) if token else None
        if live is None:
            raise StaffError("not_logged_in", "Bitte zuerst anmelden")
        now = self.clock.now()
        if now - live.last_seen > timedelta(seconds=self.settings.session_idle_s):
            await self._end(live, SessionState.EXPIRED, "idle")
            raise StaffError("session_expired", "Die Anmeldung ist abgelaufen – bitte erneut anmelden")
        # The account as it is now: disabled (by the CLI, a command) or given another role meanwhile.
        account = await self.db.read(lambda s: accounts.get(s, live.account.id))
        if account is None or not account.active:
            await self._end(live, SessionState.EXPIRED, "account disabled")
            raise StaffError("session_expired", "Dieses Konto ist gesperrt – bitte den Betreiber fragen")
        live.account, live.last_seen = account, now
        return live

    async def logout(self, live: LiveSession) -> None:
        await self._end(live, SessionState.ENDED, "logout")

    async def end_sessions_of(self, account_id: int, why: str) -> int:
        """End every session of an account (it was disabled or lost its badge); returns how many."""
        found = [live for live in self._sessions.values() if live.account.id == account_id]
        for live in found:
            await self._end(live, SessionState.EXPIRED, why)
        return len(found)

    async def _end(self, live: LiveSession, target: SessionState, why: str) -> None:
        """Revoke first (memory), then record it: a session that is over must not be usable meanwhile."""
        if self._sessions.pop(live.token_hash, None) is None:
            return
        now = self.clock.now()
        await self.db.write_until_committed(
            partial(sessions.end, session_id=live.id, target=target, actor=live.actor if why == "logout" else "system",
                    why=why, last_seen=live.last_seen, now=now),
            what="session end",
        )  # fmt: skip
        log.info("%s: session %s %s (%s)", live.actor, live.id, target, why)
        for listener in list(self._ended):
            try:
                await listener(live, why)
            except Exception:  # one listener must not keep the others from cleaning up
                log.exception("session end listener failed")

    async def _idle_loop(self) -> None:
        every = min(1.0, self.settings.session_idle_s / 10)  # an in-memory look: cheap
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await self.expire_idle()

    async def expire_idle(self) -> int:
        """End every session idle longer than `session_idle_s` (also done lazily at each request)."""
        limit = self.clock.now() - timedelta(seconds=self.settings.session_idle_s)
        idle = [live for live in self._sessions.values() if live.last_seen < limit]
        for live in idle:
            await self._end(live, SessionState.EXPIRED, "idle")
        return len(idle)

    def sessions(self) -> list[LiveSession]:
        return list(self._sessions.values())

    # -- reporting -------------------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        detail = {"sessions": len(self._sessions), "badge_reader": self.nfc is not None}
        return ComponentHealth(Status.UP, detail)

    def progress(self) -> float | None:
        return None
