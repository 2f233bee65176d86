"""One simulated deposit return machine: the device side of interface v1 (docs/deposit-machine.md).

The machine is a plain state machine driven from two sides: the shopper and the tests (insert a
container, jam, open the door, pull the plug) and the Modbus master (read registers, write acks
and commands). Registers are rendered with the same codec the driver decodes with; the wire
format is pinned separately by golden frames in the tests. `ledger` lists every container the
machine credited, in order, so a test can compare it with what the host recorded.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections import deque
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

from deposit.protocol import (
    CMD,
    CMD_SEQ,
    EVT_ACK,
    MIN_FIFO_CAPACITY,
    PROTOCOL_VERSION,
    REGISTER_COUNT,
    WRITABLE,
    Command,
    CommandResult,
    ContainerEvent,
    ContainerKind,
    Counters,
    Fault,
    MachineStatus,
    RejectReason,
    State,
    encode_status,
    next_seq,
)

from .knobs import SimFaults, SimStats

PHYSICAL_FAULTS = Fault.JAM | Fault.DOOR_OPEN | Fault.SCANNER | Fault.COMPACTOR
_READ = 3


@dataclass(frozen=True)
class Container:
    """What the shopper puts in; `reject` makes the machine hand it back for that reason."""

    gtin: int
    kind: ContainerKind
    deposit_cents: int
    reject: RejectReason | None = None


class InsertResult(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # handed back (reason in HR 24), counted
    INTAKE_CLOSED = "intake_closed"  # no session, or the machine is busy, full, faulty or out of order
    FIFO_FULL = "fifo_full"  # the host has not acknowledged enough events: "please wait"


@dataclass
class _Totals:
    session_accepted: int = 0
    session_rejected: int = 0
    session_deposit_cents: int = 0
    accepted_total: int = 0
    deposit_total_cents: int = 0
    rejected_total: int = 0


class SimulatedDepositMachine:
    """The machine; `device()` gives the pymodbus `SimDevice` to put on a simulated line."""

    def __init__(
        self,
        unit: int = 10,
        *,
        fifo_capacity: int = 32,
        bin_capacity: int | None = None,
        seed: int = 1,
        last_seq: int = 0,
        last_session: int = 0,
    ) -> None:
        """`last_seq` / `last_session`: the non-volatile counters as if the machine had already run a while."""
        if fifo_capacity < MIN_FIFO_CAPACITY:
            raise ValueError(f"the interface requires a FIFO of at least {MIN_FIFO_CAPACITY} events")
        self.unit = unit
        self.fifo_capacity = fifo_capacity
        self.bin_capacity = bin_capacity
        self.faults = SimFaults()
        self.stats = SimStats()
        self.ledger: list[ContainerEvent] = []  # every credited container, in order
        self.lost_events: list[ContainerEvent] = []  # credited, then lost from the FIFO in a power loss
        self.uncredited: list[Container] = []  # in transport when the session ended abruptly
        self.rejected: list[Container] = []
        self.fifo: deque[ContainerEvent] = deque()
        self.powered = True
        self.boot_count = 1
        self.session_id = last_session
        self.session_open = False
        self.in_transport: Container | None = None
        self.conditions = Fault(0)  # physical faults, bin full, latched events_lost
        self.out_of_order = False
        self.bin_level = 0
        self._last_seq = last_seq  # non-volatile on a real machine: seqs never repeat after a power loss
        self._last_ack = 0
        self._cmd = 0
        self._cmd_latched = 0  # HR 20 as last written
        self._cmd_seq = 0
        self._cmd_done_seq = 0
        self._cmd_result = CommandResult.DONE
        self._pending_command: asyncio.TimerHandle | None = None
        self._last_reject = RejectReason.NONE
        self._totals = _Totals()
        self._rng = random.Random(seed)
        self._changed = asyncio.Event()
        self._drop_this_reply = False

    # ----- derived state --------------------------------------------------------------------------

    @property
    def state(self) -> State:
        if self.out_of_order:
            return State.OUT_OF_ORDER
        if self.conditions & PHYSICAL_FAULTS:
            return State.FAULT
        if self.conditions & Fault.BIN_FULL:
            return State.BIN_FULL
        if self.session_open:
            return State.BUSY if self.in_transport is not None else State.SESSION
        return State.READY

    def status(self) -> MachineStatus:
        t = self._totals
        counters = Counters(
            t.session_accepted,
            t.session_rejected,
            t.session_deposit_cents,
            t.accepted_total,
            t.deposit_total_cents,
            t.rejected_total,
        )
        return MachineStatus(
            proto_version=PROTOCOL_VERSION,
            state=self.state,
            faults=self.conditions,
            session_id=self.session_id,
            evt_pending=len(self.fifo),
            fifo_capacity=self.fifo_capacity,
            boot_count=self.boot_count,
            last_ack=self._last_ack,
            cmd=self._cmd,
            cmd_seq=self._cmd_seq,
            cmd_done_seq=self._cmd_done_seq,
            cmd_result=self._cmd_result,
            last_reject_reason=self._last_reject,
            counters=counters,
            head=self.fifo[0] if self.fifo else None,
        )

    def registers(self) -> list[int]:
        return encode_status(self.status())

    async def wait_change(self, within_s: float) -> None:
        """Wait until anything changes (a session opens, an ack frees FIFO space …) or `within_s` passes."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), within_s)
        except TimeoutError:
            pass

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ----- shopper side ---------------------------------------------------------------------------

    def can_take(self) -> bool:
        return self.powered and self.state is State.SESSION and len(self.fifo) < self.fifo_capacity

    def begin_insert(self, container: Container) -> InsertResult:
        """The shopper puts a container in; accepted ones are in transport (state BUSY) until `finish_insert`."""
        if not self.powered or self.state is not State.SESSION:
            return InsertResult.INTAKE_CLOSED
        if len(self.fifo) >= self.fifo_capacity:
            return InsertResult.FIFO_FULL
        if container.reject is not None:
            self._totals.session_rejected += 1
            self._totals.rejected_total += 1
            self._last_reject = container.reject
            self.rejected.append(container)
            self._notify()
            return InsertResult.REJECTED
        self.in_transport = container
        self._notify()
        return InsertResult.ACCEPTED

    def finish_insert(self) -> ContainerEvent | None:
        """The container in transport reached the bin: credit it (event into the FIFO, counters, ledger)."""
        container, self.in_transport = self.in_transport, None
        if container is None or not self.session_open or not self.powered:
            return None
        self._last_seq = next_seq(self._last_seq)
        event = ContainerEvent(self._last_seq, self.session_id, container.gtin, container.kind, container.deposit_cents)
        self.fifo.append(event)
        self.ledger.append(event)
        t = self._totals
        t.session_accepted += 1
        t.session_deposit_cents += container.deposit_cents
        t.accepted_total += 1
        t.deposit_total_cents += container.deposit_cents
        self.bin_level += 1
        if self.bin_capacity is not None and self.bin_level >= self.bin_capacity:
            self.set_condition(Fault.BIN_FULL)
        self._notify()
        return event

    def insert(self, container: Container) -> InsertResult:
        """Put a container in and let it reach the bin at once."""
        result = self.begin_insert(container)
        if result is InsertResult.ACCEPTED:
            self.finish_insert()
        return result

    # ----- technician / environment side ---------------------------------------------------------

    def set_condition(self, fault: Fault, on: bool = True) -> None:
        """Bin full, jam, door open, scanner or compactor fault comes (or goes). Any of them ends a session."""
        self.conditions = self.conditions | fault if on else self.conditions & ~fault
        if on and fault & (PHYSICAL_FAULTS | Fault.BIN_FULL):
            if fault & Fault.JAM and self.in_transport is not None:
                self.uncredited.append(self.in_transport)  # stuck in the jam: never credited
                self.in_transport = None
            self._end_session(credit_in_transport=True)
        self._notify()

    def empty_bin(self) -> None:
        self.bin_level = 0
        self.set_condition(Fault.BIN_FULL, on=False)

    def power_off(self) -> None:
        """Pull the plug: the machine goes silent; the session ends; the container in transport is not credited."""
        if self.in_transport is not None:
            self.uncredited.append(self.in_transport)
            self.in_transport = None
        self.session_open = False
        self.powered = False
        if self._pending_command is not None:  # cut off before it ran: reported as not executable
            self._pending_command.cancel()
            self._pending_command = None
            self._cmd_done_seq, self._cmd_result = self._cmd_seq, CommandResult.WRONG_STATE
        self._notify()

    def power_on(self) -> None:
        """Power comes back: boot count +1; no session; the FIFO is kept or lost per `faults`."""
        self.powered = True
        self.boot_count = (self.boot_count + 1) & 0xFFFF
        if not self.faults.fifo_survives_power_loss and self.fifo:
            self.lost_events.extend(self.fifo)
            self.fifo.clear()
            self.conditions |= Fault.EVENTS_LOST
        self._notify()

    def power_cycle(self) -> None:
        self.power_off()
        self.power_on()

    # ----- Modbus side ----------------------------------------------------------------------------

    def device(self) -> SimDevice:
        """The pymodbus device: HR 0..31 (HR 13, 20, 21 writable, the rest read-only); other spaces answer 02."""
        hr = []
        for address in range(REGISTER_COUNT):
            hr.append(SimData(address, values=[0], datatype=DataType.REGISTERS, readonly=address not in WRITABLE))
        no_bits = [SimData(0xFFF0, values=[False] * 16, datatype=DataType.BITS)]
        simdata = (no_bits, list(no_bits), hr, [SimData(0, datatype=DataType.INVALID)])
        return SimDevice(id=self.unit, simdata=simdata, action=self._on_access)

    def drop_reply(self, function_code: int) -> bool:
        """Asked by the line simulator before a reply goes out: True drops it (silence or a lost reply)."""
        if not self.powered or self.faults.silent or self._drop_this_reply:
            self._drop_this_reply = False
            return True
        faults = self.faults
        lose = False
        if function_code == _READ and faults.lose_read_replies > 0:
            faults.lose_read_replies -= 1
            lose = True
        elif function_code in (6, 16) and faults.lose_write_replies > 0:
            faults.lose_write_replies -= 1
            lose = True
        elif faults.lose_reply_probability and self._rng.random() < faults.lose_reply_probability:
            lose = True
        self.stats.replies_lost += lose
        return lose

    async def _on_access(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if not self.powered or self.faults.silent:
            return ExcCodes.DEVICE_FAILURE  # no side effects; the line simulator drops the reply
        if set_values is not None:
            if self.faults.lose_write_requests > 0:  # garbled on the way in: a real device discards it unseen
                self.faults.lose_write_requests -= 1
                self._drop_this_reply = True
                return ExcCodes.DEVICE_FAILURE
            self._on_write(address, [int(v) for v in set_values])
        elif function_code == _READ:  # write echoes read back the written values: leave those alone
            self.stats.reads += 1
            registers[:REGISTER_COUNT] = self.registers()  # the block starts at HR 0 (see device())
        return None

    def _on_write(self, address: int, values: list[int]) -> None:
        written = dict(zip(range(address, address + len(values)), values, strict=True))
        if EVT_ACK in written:
            self._ack(written[EVT_ACK])
        if CMD in written:
            self._cmd_latched = written[CMD]
        if CMD_SEQ in written:
            self._accept_command(self._cmd_latched, written[CMD_SEQ])

    def _ack(self, seq: int) -> None:
        if self.fifo and self.fifo[0].seq == seq:
            self.fifo.popleft()
            self._last_ack = seq
            self.stats.acks_applied += 1
            self._notify()
        else:
            self.stats.acks_ignored += 1

    def _accept_command(self, command: int, seq: int) -> None:
        if seq == 0 or seq == self._cmd_seq:
            self.stats.command_writes_ignored += 1
            return
        if self._pending_command is not None:  # a host that did not wait: finish the running one first
            self._pending_command.cancel()
            self._execute(self._cmd, self._cmd_seq)
        self._cmd, self._cmd_seq = command, seq
        if self.faults.command_delay_s > 0:
            loop = asyncio.get_running_loop()
            self._pending_command = loop.call_later(self.faults.command_delay_s, self._execute, command, seq)
        else:
            self._execute(command, seq)

    def _execute(self, command: int, seq: int) -> None:
        self._pending_command = None
        try:
            result = self._run(Command(command))
        except ValueError:
            result = CommandResult.UNKNOWN_COMMAND
        self._cmd_done_seq, self._cmd_result = seq, result
        self.stats.commands_executed += 1
        self._notify()

    def _run(self, command: Command) -> CommandResult:
        if command is Command.OPEN_SESSION:
            if self.state is not State.READY:
                return CommandResult.WRONG_STATE
            if self.fifo:
                return CommandResult.FIFO_NOT_EMPTY
            self.session_id = next_seq(self.session_id)
            self.session_open = True
            self._totals.session_accepted = self._totals.session_rejected = self._totals.session_deposit_cents = 0
            self._last_reject = RejectReason.NONE
            return CommandResult.DONE
        if command in (Command.CLOSE_SESSION, Command.CANCEL_SESSION):
            if not self.session_open:
                return CommandResult.WRONG_STATE
            self._end_session(credit_in_transport=command is Command.CLOSE_SESSION)
            return CommandResult.DONE
        if command is Command.RESET_FAULTS:
            self.conditions &= ~Fault.EVENTS_LOST
            return CommandResult.FAULT_PRESENT if self.conditions else CommandResult.DONE
        if command is Command.OUT_OF_ORDER:
            self._end_session(credit_in_transport=False)
            self.out_of_order = True
            return CommandResult.DONE
        self.out_of_order = False  # BACK_IN_SERVICE
        return CommandResult.DONE

    def _end_session(self, *, credit_in_transport: bool) -> None:
        if self.in_transport is not None:
            if credit_in_transport:
                self.finish_insert()
            else:
                self.uncredited.append(self.in_transport)
                self.in_transport = None
        self.session_open = False
