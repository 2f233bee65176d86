"""Async driver for a deposit return machine on a shared Modbus line (interface v1, docs/deposit-machine.md).

The driver reads and writes registers; it keeps no session or money state. Which events have been
persisted is the caller's knowledge (see `deposit.fifo.EventCursor`). Every request goes through the
line's lock, so polling the machine never collides with the fridge controllers on the same cable.
Failures are `drivers.modbus.ModbusError` (line down, unit silent, refused) or `ProtocolError`
(the unit answers but not in this interface); whether the unit answers is tracked by the line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from common.availability import AvailabilitySnapshot
from drivers.modbus import ModbusError, ModbusLine, NoResponse

from .protocol import (
    CMD,
    COMMAND_BLOCK,
    EVENT_BLOCK,
    EVT_ACK,
    REGISTER_COUNT,
    SUMMARY_COUNT,
    Command,
    CommandResult,
    ContainerEvent,
    MachineStatus,
    MachineSummary,
    decode_command_block,
    decode_event,
    decode_status,
    decode_summary,
    encode_command,
    next_seq,
)

log = logging.getLogger(__name__)


class CommandTimeout(Exception):
    """The machine did not report the command as done (HR 22) within the timeout."""


class CommandRefused(Exception):
    """The machine executed the command's sequence number but refused it; `.result` says why."""

    def __init__(self, command: Command, result: CommandResult) -> None:
        super().__init__(f"{command.name.lower()} refused: {result.name.lower()}")
        self.command = command
        self.result = result


@dataclass(frozen=True)
class CommandOutcome:
    command: Command
    seq: int
    result: CommandResult
    writes: int  # how often the command was written (more than one after lost replies; executed once)


class DepositMachine:
    """One return machine (Modbus unit) on a `ModbusLine`."""

    def __init__(
        self,
        name: str,
        line: ModbusLine,
        unit: int,
        *,
        command_timeout_s: float = 3.0,
        command_poll_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"Modbus unit must be 1-247, not {unit}")
        self.name = name
        self.line = line
        self.unit = unit
        self.command_timeout_s = command_timeout_s
        self.command_poll_s = command_poll_s
        self._clock = clock
        self._sleep = sleep
        line.label_unit(unit, f"deposit machine {name}")

    # ----- availability ---------------------------------------------------------------------------

    def snapshot(self) -> AvailabilitySnapshot:
        """Whether the machine answers (tracked by the line per unit); a silent machine is down, never OK."""
        return self.line.unit_snapshot(self.unit)

    @property
    def available(self) -> bool:
        return self.snapshot().available is True

    # ----- reads ----------------------------------------------------------------------------------

    async def read_status(self) -> MachineStatus:
        """The whole register map in one request (HR 0..31)."""
        return decode_status(await self.line.read_holding(self.unit, 0, REGISTER_COUNT))

    async def read_summary(self) -> MachineSummary:
        """State, faults, session and the FIFO head in one short request (HR 0..12): the poll during a session."""
        return decode_summary(await self.line.read_holding(self.unit, 0, SUMMARY_COUNT))

    async def read_oldest_event(self) -> ContainerEvent | None:
        """The head of the FIFO (HR 4..12, one request), or None when no event is pending.

        Reading has no side effect: reading again (e.g. after a lost reply) returns the same event
        until it is acknowledged.
        """
        address, count = EVENT_BLOCK
        return decode_event(await self.line.read_holding(self.unit, address, count))

    # ----- writes ---------------------------------------------------------------------------------

    async def ack_event(self, seq: int) -> None:
        """Remove the event `seq` from the FIFO. Only after it is persisted! A stale seq is ignored by the machine.

        A lost reply is harmless: writing the same seq again never removes a second event.
        """
        if not 1 <= seq <= 0xFFFF:
            raise ValueError(f"event sequence number must be 1-65535, not {seq}")
        await self.line.write_register(self.unit, EVT_ACK, seq)

    async def send_command(self, command: Command) -> CommandOutcome:
        """Execute `command` exactly once and wait for its result (HR 22 reaching its sequence number).

        The sequence number is the one after the last the machine accepted (HR 21), so it is never
        reused, also after a restart of the host. A write whose reply is lost is repeated with the
        same number until HR 21 shows it arrived; the machine executes each number once.
        """
        deadline = self._clock() + self.command_timeout_s
        _cmd, accepted, done, _result = await self._read_command_block()
        if accepted != done:  # the previous command is still running: let it finish first
            await self._wait_done(accepted, deadline, command)
        seq = next_seq(accepted)
        writes = 0
        silence: NoResponse | None = None
        while True:
            if writes == 0 or accepted != seq:
                writes += 1
                try:
                    await self.line.write_registers(self.unit, CMD, encode_command(command, seq))
                except NoResponse:
                    log.debug("deposit machine %s: no reply to command %s seq %d", self.name, command.name, seq)
            try:
                _cmd, accepted, done, result = await self._read_command_block()
                silence = None
            except NoResponse as exc:
                accepted, done, silence = -1, -1, exc  # unknown whether it arrived: write the same seq again
            if done == seq:
                return CommandOutcome(command, seq, result, writes)
            if self._clock() >= deadline:
                if silence is not None:
                    raise silence
                raise CommandTimeout(
                    f"deposit machine {self.name}: {command.name.lower()} (seq {seq}) not done "
                    f"within {self.command_timeout_s:g} s (machine accepted seq {accepted}, done {done})"
                )
            await self._sleep(self.command_poll_s)

    async def _read_command_block(self) -> tuple[int, int, int, CommandResult]:
        address, count = COMMAND_BLOCK
        return decode_command_block(await self.line.read_holding(self.unit, address, count))

    async def _wait_done(self, seq: int, deadline: float, command: Command) -> None:
        while True:
            _cmd, _accepted, done, _result = await self._read_command_block()
            if done == seq:
                return
            if self._clock() >= deadline:
                raise CommandTimeout(
                    f"deposit machine {self.name}: cannot send {command.name.lower()}: "
                    f"the previous command (seq {seq}) is still running"
                )
            await self._sleep(self.command_poll_s)

    async def command(self, command: Command) -> CommandOutcome:
        """`send_command`, raising CommandRefused unless the machine reports DONE."""
        outcome = await self.send_command(command)
        if outcome.result is not CommandResult.DONE:
            raise CommandRefused(command, outcome.result)
        return outcome

    async def open_session(self) -> MachineStatus:
        """Open a session; returns the status right after (its `session_id` is the new session)."""
        await self.command(Command.OPEN_SESSION)
        return await self.read_status()

    async def close_session(self) -> MachineStatus:
        await self.command(Command.CLOSE_SESSION)
        return await self.read_status()


__all__ = ["CommandOutcome", "CommandRefused", "CommandTimeout", "DepositMachine", "ModbusError"]
