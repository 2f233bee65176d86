"""`station simulate`: a config's simulated devices in their own process, and what physically happened.

The daemon can then be killed and restarted against the same "physical" station, as on real
hardware: doors stay open or shut, the terminal keeps its ledger. With a record file, every
physical fact is appended as one JSON line the moment it happens, for tests and people to check
the daemon against:

    {"t": 1764345600.123, "event": "pulse", "compartment": 2, "bus": "wall", "board": 0, "lock": 2}
    {"t": ..., "event": "door_opened", "compartment": 2}      # the simulated shopper takes the goods
    {"t": ..., "event": "door_closed", "compartment": 2}
    {"t": ..., "event": "terminal_approved", "kind": "payment", "receipt_no": 7, "amount_cents": 420}
    {"t": ..., "event": "terminal_booked", "receipt_no": 7, "amount_cents": 420}
    {"t": ..., "event": "terminal_reversed", "receipt_no": 7, "amount_cents": 0}

`t` is wall-clock time (seconds since the epoch), comparable with the daemon's UTC timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

from .config import Config
from .demo import Devices, simulated_devices

log = logging.getLogger(__name__)

DOOR_TICK_S = 0.02  # how often door positions are read for the record (the simulated doors move lazily)


class PhysicalRecord:
    """Appends physical facts as JSON lines; maps (bus, board, lock) to the compartment on the door."""

    def __init__(self, out: IO[str], config: Config) -> None:
        self.out = out
        self.compartment = {(c.bus, c.board, c.lock): c.id for c in config.compartments}
        self._doors: dict[tuple[str, int, int], bool] = {}

    def write(self, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"t": round(time.time(), 6), "event": event, **fields}) + "\n")
        self.out.flush()

    def watch(self, devices: Devices) -> None:
        for bus_name, sim in devices.lock_buses.items():
            sim.on_pulse = lambda board, lock, bus=bus_name: self._pulse(bus, board, lock)
            for board in sim.board_addresses():  # the starting position is not an event
                for lock, is_open in sim.door_states(board).items():
                    self._doors[(bus_name, board, lock)] = is_open
        if devices.terminal is not None:
            devices.terminal.ledger.on_change = self._money

    def _pulse(self, bus: str, board: int, lock: int) -> None:
        self.write("pulse", compartment=self.compartment.get((bus, board, lock)), bus=bus, board=board, lock=lock)

    def _money(self, what: str, txn: Any) -> None:
        amount = txn.authorised_cents if what in ("approved", "held") else txn.booked_cents
        self.write(f"terminal_{what}", kind=txn.kind, receipt_no=txn.receipt_no, trace_no=txn.trace_no,
                   amount_cents=amount)

    def doors_moved(self, devices: Devices) -> None:
        """Compare every door with its last known position; record each change."""
        for bus_name, sim in devices.lock_buses.items():
            for board in sim.board_addresses():
                for lock, is_open in sim.door_states(board).items():
                    key = (bus_name, board, lock)
                    if self._doors.get(key, False) != is_open:
                        self._doors[key] = is_open
                        self.write("door_opened" if is_open else "door_closed",
                                   compartment=self.compartment.get(key), bus=bus_name, board=board, lock=lock)


async def run_simulation(config: Config, out: IO[str] | None) -> None:
    """Serve the simulated devices until SIGTERM/SIGINT; record what physically happens.

    Record lines are small and flushed at once (a test reads them while this runs); this is test and
    demo infrastructure, so writing them from the loop is fine.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with simulated_devices(config) as devices:
        record = PhysicalRecord(out, config) if out is not None else None
        if record is not None:
            record.watch(devices)
            record.write("ready", station=config.station.id)
        print(f"SIMULATION: devices of {config.station.id} ready", flush=True)
        while not stop.is_set():
            if record is not None:
                record.doors_moved(devices)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DOOR_TICK_S)
    log.info("simulated devices stopped")


def main(config: Config, record_path: Path | None) -> int:
    with contextlib.ExitStack() as files:
        out = files.enter_context(record_path.open("a", encoding="utf-8")) if record_path else None
        try:
            asyncio.run(run_simulation(config, out))
        except OSError as exc:  # a port in use: say which, no traceback
            print(f"station simulate: {exc}", file=sys.stderr)
            return 1
    return 0
