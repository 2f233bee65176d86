"""Fault knobs and counters of the simulated return machine's Modbus side."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SimFaults:
    """Fault knobs of the Modbus side; change them any time."""

    silent: bool = False  # no reply at all (cable cut, adapter dead)
    lose_read_replies: int = 0  # the next N read replies are lost after the read was served
    lose_write_replies: int = 0  # the next N write replies are lost after the write took effect
    lose_reply_probability: float = 0.0  # any reply lost at random (seeded) after the request took effect
    lose_write_requests: int = 0  # the next N write requests are lost on the way in (no effect, no reply)
    fifo_survives_power_loss: bool = True  # False: pending events are gone after a power loss
    command_delay_s: float = 0.0  # time a command takes before HR 22 shows it done


@dataclass
class SimStats:
    reads: int = 0
    acks_applied: int = 0
    acks_ignored: int = 0  # stale or wrong seq: ignored by the rule
    commands_executed: int = 0
    command_writes_ignored: int = 0  # same cmd_seq again: not executed twice
    replies_lost: int = 0
