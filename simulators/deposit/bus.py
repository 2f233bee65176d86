"""A simulated Modbus line carrying deposit machines, alone or next to fridge controllers.

The deposit machine is a pymodbus `SimDevice` like any other unit, so it plugs into the fridge
line simulator's server (`simulators.fridge.FridgeBusSimulator`, passed as an extra device): one
server, one pty or TCP port, fridges and the return machine with different unit ids, exactly as
on the shared RS485 cable. This class is that simulator with the machines added, so it serves
over TCP and a pty with the same plumbing. What it adds is the wire side of the machine's fault
knobs: a silent machine and lost replies are dropped in the server's reply hook, which the plain
fridge simulator only does for its own controllers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drivers.fridge.registermap import RegisterMap, load_map
from simulators.fridge import FridgeBusSimulator, ThermalParams

from .machine import SimulatedDepositMachine


class DepositBusSimulator(FridgeBusSimulator):
    """`machines` on one line, plus fridge controllers `fridge_units` (none by default) using `fridge_map`."""

    def __init__(
        self,
        machines: Iterable[SimulatedDepositMachine],
        *,
        fridge_units: Mapping[int, ThermalParams] | Iterable[int] = (),
        fridge_map: RegisterMap | None = None,
        **kwargs: Any,
    ) -> None:
        self.machines = {machine.unit: machine for machine in machines}
        fridge_ids = set(fridge_units.keys() if isinstance(fridge_units, Mapping) else fridge_units)
        clash = fridge_ids & set(self.machines)
        if clash:
            raise ValueError(f"unit ids {sorted(clash)} are used by a fridge and a deposit machine")
        extra = [machine.device() for machine in self.machines.values()]
        extra += list(kwargs.pop("extra_devices", ()))
        if not isinstance(fridge_units, Mapping):
            fridge_units = sorted(fridge_ids)
        super().__init__(fridge_map or load_map("dixell-xr"), fridge_units, extra_devices=extra, **kwargs)

    def machine(self, unit: int) -> SimulatedDepositMachine:
        return self.machines[unit]

    def _trace(self, unit_offset: int, sending: bool, data: bytes) -> bytes:
        """Before the fridge simulator's own hook: drop replies a deposit machine's knobs say are lost."""
        if sending and len(data) > unit_offset + 1:
            machine = self.machines.get(data[unit_offset])
            if machine is not None and machine.drop_reply(data[unit_offset + 1] & 0x7F):
                return b""
        return super()._trace(unit_offset, sending, data)
