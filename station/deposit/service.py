"""DepositService: the return machine's sessions as a daemon component (flow: `flow.RETURN`).

One task owns the machine: every cycle (every `poll_s` during a session, `idle_poll_s` between
sessions, or at once when woken) it reads the machine, takes every pending FIFO event (stored,
then acknowledged: `deposit.fifo.EventCursor`), and supervises the return in progress: a session
the machine ended (fault, bin full, power loss) or one idle for `session_timeout_s` is closed and
counted; a choice not made within `choice_timeout_s` becomes a voucher. The screen's requests
(start, finish, choose) take the same lock, so no two requests ever interleave on the machine.

A silent machine is a state (health degraded, returns refused with a reason), never a crash; what
it accepted stays in its FIFO until the station has stored it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from common.availability import Availability
from deposit import (
    Command,
    CommandRefused,
    CommandTimeout,
    ContainerEvent,
    DepositMachine,
    EventCursor,
    Fault,
    MachineSummary,
    ProtocolError,
    State,
)
from deposit.protocol import next_seq
from drivers.modbus import ModbusError, ModbusLine

from .. import crashpoints
from ..components import ComponentHealth, ProgressMixin, Status, cancel_tasks
from ..config.deposit import DepositConfig
from ..db.engine import Database, StorageUnavailable
from ..db.models import DepositReturn
from ..flows.engine import check_recovery, recover, transition
from ..journal import raise_alarm
from . import payout, store
from .flow import FINAL, RETURN, SETTLED, ReturnState
from .live import LiveBoard
from .texts import NOT_READY, SETTLED_TEXT, SILENT, STATE_TEXT, STORAGE_TEXT

if TYPE_CHECKING:
    from ..printing import PrintService, ReceiptDesk

log = logging.getLogger(__name__)

MACHINE_ERRORS = (ModbusError, ProtocolError, CommandTimeout)


class DepositError(Exception):
    """A return request that cannot be done now; `code` maps to the API answer (errors.SERVICE_ERRORS)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DepositService(ProgressMixin):
    name = "deposit"

    def __init__(
        self,
        config: DepositConfig,
        db: Database,
        line: ModbusLine,
        *,
        desk: ReceiptDesk,
        printing: PrintService | None = None,
        owns_line: bool = False,
        clock: Callable[[], float] = time.monotonic,
        command_poll_s: float = 0.05,
    ) -> None:
        self.config, self.db, self.line, self.desk, self.printing = config, db, line, desk, printing
        self.machine = DepositMachine("deposit", line, config.unit, command_timeout_s=config.command_timeout_s,
                                      command_poll_s=command_poll_s)
        self.cursor = EventCursor(self.machine, self._persist)
        self.availability = Availability(f"deposit machine (unit {config.unit} on {config.line})", log)
        self.board = LiveBoard()
        self.summary: MachineSummary | None = None
        self.recovered = False
        self._owns_line = owns_line
        self.clock = clock
        self._io = asyncio.Lock()
        self._current: str | None = None
        self._since = 0.0  # monotonic time of the current return's last container or change of state
        self._unfinished: list[tuple[str, ReturnState]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending_publish: set[asyncio.Task[None]] = set()
        check_recovery(RETURN, self)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self.cursor.last_persisted = await self.db.read(store.last_event_key)
        self._unfinished = await self.db.read(store.unfinished_newest_first)
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="deposit-machine")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_tasks([self._task])
            self._task = None
        if self._owns_line:
            await self.line.close()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @property
    def current(self) -> str | None:
        return self._current

    # -- the loop ----------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                async with self._io:
                    await self._cycle()
            except asyncio.CancelledError:
                raise
            except MACHINE_ERRORS as exc:
                self.availability.mark_down(str(exc) or type(exc).__name__)
            except StorageUnavailable as exc:
                log.warning("deposit: storage unavailable (%s); retrying", exc)
            except Exception:
                log.exception("deposit machine cycle failed")
            self.mark_progress()
            assert self._wake is not None
            interval = self.config.poll_s if self._current else self.config.idle_poll_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()

    async def _cycle(self) -> None:
        """One poll (the caller holds the machine lock)."""
        self.summary = await self.machine.read_summary()
        self.availability.mark_up()
        if self._unfinished:  # start-up: recovery needs the machine, so it runs once the machine answers
            self._unfinished = await recover(self._unfinished, RETURN, self)
        if self.summary.evt_pending:
            await self.cursor.drain()
        self.recovered = not self._unfinished
        if self._current is not None:
            await self._supervise(self._current)
        elif self.recovered and self.summary.session_open:
            await self._close_orphan_session(self.summary.session_id)

    async def _close_orphan_session(self, session_id: int) -> None:
        """A session no return owns (it was counted while the machine was silent): close it, so the machine
        does not stay blocked; what it still takes arrives as late containers, with an alarm."""
        log.warning("deposit machine: closing session %d, which no return owns", session_id)
        with contextlib.suppress(CommandRefused):  # it ended by itself meanwhile
            await self.machine.command(Command.CLOSE_SESSION)

    async def _persist(self, event: ContainerEvent) -> None:
        """The cursor's persist step: one container, committed before its event is acknowledged."""
        cents = self.config.amount_cents(event.kind, event.gtin)
        owner, _late = await self.db.write_until_committed(lambda s: store.add_container(s, event, cents),
                                                           what=f"container {event.key}")
        crashpoints.reached("deposit_return.container")
        if owner is not None and owner == self._current:
            self._since = self.clock()
            await self._publish(owner, "Leergut angenommen")

    async def _supervise(self, return_id: str) -> None:
        state = await self.db.read(lambda s: RETURN.current(s, return_id))
        idle = self.clock() - self._since
        if state is ReturnState.OPEN:
            await self.on_open(return_id)
        elif state is ReturnState.COUNTING:
            row = await self.db.read(lambda s: s.get_one(DepositReturn, return_id))
            summary = self.summary
            ended = summary is None or not summary.session_open or summary.session_id != row.machine_session
            if ended:
                why = "the machine ended the session" + (f" ({summary.state.name.lower()})" if summary else "")
                await self._count(return_id, why=why, close=False)
            elif idle > self.config.session_timeout_s:
                await self._count(return_id, why=f"no container for {self.config.session_timeout_s:g} s", close=True)
        elif state is ReturnState.CHOOSING and idle > self.config.choice_timeout_s:
            await self._settle(return_id, "voucher", actor="system", why="no choice made: a voucher is printed")

    # -- recovery: one action per non-final state (the engine refuses this class otherwise) -------------------
    async def on_open(self, return_id: str) -> None:
        """Did the open command arrive? The machine's session id tells (retried while it is silent)."""
        row = await self.db.read(lambda s: s.get_one(DepositReturn, return_id))
        status = await self.machine.read_status()
        expected = None if row.session_before is None else next_seq(row.session_before)
        if status.command_pending:
            self._adopt(return_id)  # the open still runs: the next cycle looks again
            return
        if status.session_id == expected:
            await self._commit(return_id, ReturnState.COUNTING, machine_session=expected, recovered=True)
            self._adopt(return_id)
        else:
            await self._commit(return_id, ReturnState.CANCELLED, why="the machine never opened the session",
                               recovered=True)

    async def on_counting(self, return_id: str) -> None:
        """The session goes on (or is counted now, when another return is already in progress)."""
        if self._current not in (None, return_id):
            await self._count(return_id, why="superseded after a restart", close=True)
            return
        self._adopt(return_id)

    async def on_choosing(self, return_id: str) -> None:
        """The shopper may still choose; an older return left waiting becomes a voucher now."""
        if self._current not in (None, return_id):
            await self._settle(return_id, "voucher", actor="system", why="left without a choice")
            return
        self._adopt(return_id)

    def _adopt(self, return_id: str) -> None:
        self._current, self._since = return_id, self.clock()
        self._spawn_publish(return_id)

    def _spawn_publish(self, return_id: str) -> None:
        """Show a resumed return on the screen's live view (after a restart the board is empty)."""
        if self.board.get(return_id) is None:
            task = asyncio.get_running_loop().create_task(self._publish(return_id), name="deposit-publish")
            self._pending_publish.add(task)
            task.add_done_callback(self._pending_publish.discard)

    # -- the screen's requests -----------------------------------------------------------------------------
    async def begin(self) -> str:
        """Open a session at the machine for a new return; returns its id (counting, or open while unresolved)."""
        if not self.recovered:
            raise DepositError("busy", "Die Station prüft gerade eine unterbrochene Rückgabe – bitte kurz warten")
        async with self._io:
            if self._current is not None:
                raise DepositError("busy", "Es läuft bereits eine Rückgabe – bitte erst beenden")
            try:
                status = await self.machine.read_status()
                if status.evt_pending:
                    await self.cursor.drain()
                    status = await self.machine.read_status()
            except MACHINE_ERRORS as exc:
                self.availability.mark_down(str(exc) or type(exc).__name__)
                raise DepositError("unavailable", SILENT) from None
            self.availability.mark_up()
            if status.state is not State.READY:
                raise DepositError("not_available", NOT_READY.get(status.state, SILENT))
            return_id = str(uuid.uuid4())
            try:
                await self.db.write(lambda s: store.create_return(s, return_id, status.session_id))
            except StorageUnavailable:
                raise DepositError("storage_unavailable", STORAGE_TEXT) from None
            self._adopt(return_id)
            crashpoints.reached("deposit_return.open")
            await self._publish(return_id, "Der Automat wird gestartet")
            await self._open_session(return_id)
        self.wake()
        return return_id

    async def _open_session(self, return_id: str) -> None:
        try:
            await self.machine.command(Command.OPEN_SESSION)
            status = await self.machine.read_status()
        except CommandRefused as exc:
            await self._commit(return_id, ReturnState.CANCELLED, why=f"the machine refused: {exc}")
            raise DepositError("not_available", NOT_READY.get(State.FAULT, SILENT)) from None
        except MACHINE_ERRORS as exc:  # unknown whether it opened: the loop asks the machine (on_open)
            self.availability.mark_down(str(exc) or type(exc).__name__)
            await self._publish(return_id, SILENT)
            return
        await self._commit(return_id, ReturnState.COUNTING, machine_session=status.session_id)

    async def finish(self, return_id: str) -> dict[str, Any]:
        """The shopper is done: close the session, take the last containers, then the total is final."""
        state = await self._state(return_id)
        if state is ReturnState.COUNTING:
            async with self._io:
                if await self._state(return_id) is ReturnState.COUNTING:
                    await self._count(return_id, why="the shopper finished", close=True)
        elif state is ReturnState.OPEN:
            raise DepositError("busy", "Der Automat startet noch – bitte einen Moment warten")
        return await self.view(return_id)

    async def choose(self, return_id: str, choice: str, *, actor: str = "shopper") -> dict[str, Any]:
        """Settle the return as `choice` (voucher, credit, donation); a repeat of the same choice answers the same."""
        if choice not in SETTLED:
            raise DepositError("invalid", "Bitte Pfandbon, Guthaben oder Spende wählen")
        if choice == "donation" and self.config.donation is None:
            raise DepositError("invalid", "Spenden ist an dieser Station nicht eingerichtet")
        await self._state(return_id)  # 404 before waiting for the machine lock
        async with self._io:  # the loop may settle it meanwhile (choice timeout): decide under the lock
            state = await self._state(return_id)
            if state in FINAL:
                row = await self.db.read(lambda s: s.get_one(DepositReturn, return_id))
                if row.choice != choice:
                    raise DepositError("too_late", "Diese Rückgabe ist bereits abgeschlossen")
            elif state is not ReturnState.CHOOSING:
                raise DepositError("busy", "Bitte zuerst die Rückgabe beenden")
            else:
                try:
                    await self._settle(return_id, choice, actor=actor)
                except StorageUnavailable:
                    raise DepositError("storage_unavailable", STORAGE_TEXT) from None
        return await self.view(return_id)

    async def view(self, return_id: str) -> dict[str, Any]:
        found = await self.db.read(lambda s: store.view(s, return_id, self.desk))
        if found is None:
            raise DepositError("not_found", "Diese Rückgabe gibt es nicht")
        live = self.board.get(return_id)
        return {**found, "message": live.get("message") if live else None}

    async def _state(self, return_id: str) -> ReturnState:
        try:
            return await self.db.read(lambda s: RETURN.current(s, return_id))
        except LookupError:
            raise DepositError("not_found", "Diese Rückgabe gibt es nicht") from None

    # -- steps (the caller holds the machine lock) --------------------------------------------------------------
    async def _count(self, return_id: str, *, why: str, close: bool) -> None:
        """End the machine's session (when `close`), take every event, then commit choosing (or cancelled)."""
        unreachable = None
        try:
            await self.cursor.drain()
            if close:
                summary = await self.machine.read_summary()
                row = await self.db.read(lambda s: s.get_one(DepositReturn, return_id))
                if summary.session_open and summary.session_id == row.machine_session:
                    with contextlib.suppress(CommandRefused):  # ended meanwhile: nothing to close
                        await self.machine.command(Command.CLOSE_SESSION)
                await self.cursor.drain()  # the container that was in transport
            await self._reconcile(return_id)
        except MACHINE_ERRORS as exc:  # what the machine still holds arrives later (alarm if then too late)
            unreachable = str(exc) or type(exc).__name__
            self.availability.mark_down(unreachable)
        count = await self.db.read(lambda s: s.get_one(DepositReturn, return_id).count)
        target = ReturnState.CHOOSING if count else ReturnState.CANCELLED
        await self._commit(return_id, target, why=why, machine_unreachable=unreachable)

    async def _reconcile(self, return_id: str) -> None:
        """docs/deposit-machine.md §8: the machine's session counters against what the station stored."""
        status = await self.machine.read_status()
        row = await self.db.read(lambda s: s.get_one(DepositReturn, return_id))
        if status.session_id != row.machine_session or status.evt_pending:
            return
        counted = status.counters.session_accepted, status.counters.session_deposit_cents
        if counted != (row.count, row.machine_cents):
            details = {"machine_accepted": counted[0], "machine_cents": counted[1], "stored": row.count,
                       "stored_machine_cents": row.machine_cents, "lost_flag": "events_lost" in status.fault_names()}
            await self.db.write(lambda s: raise_alarm(s, "deposit.count_mismatch", f"deposit_return:{return_id}",
                                                      details=details))

    async def _settle(self, return_id: str, choice: str, *, actor: str, why: str | None = None) -> None:
        target = SETTLED[choice]
        queued = await self.db.write(lambda s: payout.settle(s, self.config, self.desk, return_id, choice, actor, why))
        self.reported(return_id, target)
        if queued and self.printing is not None:
            self.printing.wake()
        await self._publish(return_id, SETTLED_TEXT[target])

    async def _commit(self, return_id: str, state: ReturnState, **details: Any) -> None:
        def write(session: Session) -> None:
            if "machine_session" in details:
                session.get_one(DepositReturn, return_id).machine_session = details["machine_session"]
            transition(session, RETURN, return_id, state, reason="deposit_return", reference=return_id,
                       **{k: v for k, v in details.items() if v is not None})

        await self.db.write_until_committed(write, what=f"return {return_id} {state}")
        self.reported(return_id, state)
        await self._publish(return_id, STATE_TEXT.get(state))

    def reported(self, return_id: str, state: ReturnState) -> None:
        crashpoints.reached(f"deposit_return.{state}")
        if state in FINAL and self._current == return_id:
            self._current = None
        elif self._current == return_id:
            self._since = self.clock()

    async def _publish(self, return_id: str, message: str | None = None) -> None:
        view = await self.db.read(lambda s: store.view(s, return_id, self.desk))
        if view is not None:
            self.board.publish(return_id, view, message)

    # -- reporting -------------------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        snap = self.availability.snapshot()
        summary = self.summary
        detail = {
            "unit": self.config.unit,
            "line": self.config.line,
            "available": snap.available,
            "last_error": snap.last_error,
            "machine_state": None if summary is None else summary.state.name.lower(),
            "faults": [f.name.lower() for f in Fault if summary and f in summary.faults and f.name],
            "current": self._current,
            "recovering": [key for key, _ in self._unfinished],
            "events_taken": self.cursor.stats.persisted,
        }
        up = snap.available is True and self.recovered and (summary is None or summary.state in _WORKING)
        return ComponentHealth(Status.UP if up else Status.DEGRADED, detail)

    def status(self) -> dict[str, Any]:
        """For the screen: can a return start now, and what the machine shows."""
        summary = self.summary
        state = summary.state if summary else None
        ready = self.availability.available is True and self.recovered and state is State.READY \
            and self._current is None
        reason = None
        if self.availability.available is not True:
            reason = SILENT
        elif state is not None and state is not State.READY and self._current is None:
            reason = NOT_READY.get(state)
        donation = self.config.donation.recipient if self.config.donation else None
        amounts = self.config.amounts
        return {"ready": ready, "reason": reason, "machine_state": None if state is None else state.name.lower(),
                "current_return_id": self._current, "donation_recipient": donation,
                "amounts": {"single_use_cents": amounts.single_use_cents, "reusable_cents": amounts.reusable_cents,
                            "crate_cents": amounts.crate_cents}}


_WORKING = (State.READY, State.SESSION, State.BUSY)
