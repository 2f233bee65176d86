"""A fridge/freezer temperature controller on a shared Modbus line, described by a register map."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from common.availability import AvailabilitySnapshot

from ..modbus import ModbusExceptionResponse, ModbusLine
from .codec import (
    ReadBlock,
    block_values,
    decode_bits,
    decode_number,
    decode_reading,
    encode_flag_write,
    encode_number,
    plan_reads,
)
from .reading import FridgeReading
from .registermap import Point, RegisterMap


class WriteRefused(Exception):
    """The map does not allow this write (no such register, read-only, unverified, out of range)."""


class WriteNotConfirmed(Exception):
    """The controller accepted the write but reading it back shows a different value."""


class FridgeController:
    """Reads probes, setpoint, flags and alarms of one controller; writes only what the map allows.

    Every `read()` fetches the fitted probes and all status/setpoint points, grouped into as few
    requests as the map's addresses allow. Raises `drivers.modbus.ModbusError` when the controller
    does not answer or the line is down; registers it refuses (Modbus exception) land in
    `reading.errors` instead, so a wrong setpoint address never hides the probe temperatures.
    """

    def __init__(
        self,
        name: str,
        line: ModbusLine,
        unit: int,
        register_map: RegisterMap,
        *,
        probes: Sequence[str] | None = None,
        product_probe: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.line = line
        self.unit = unit
        self.map = register_map
        self.probes = tuple(probes if probes is not None else register_map.default_probes)
        self.product_probe = product_probe or (
            register_map.product_probe if register_map.product_probe in self.probes else self.probes[0]
        )
        self._check_probes()
        self._clock = clock
        points = [p for p in register_map.points if p.kind != "probe" or p.name in self.probes]
        self._blocks = plan_reads(points)
        line.label_unit(unit, f"fridge {name}")

    def _check_probes(self) -> None:
        known = {p.name for p in self.map.probes}
        unknown = [name for name in self.probes if name not in known]
        if not self.probes or unknown:
            raise ValueError(
                f"fridge {self.name}: probes {unknown or '[]'} not in map {self.map.model!r} "
                f"(it has {', '.join(sorted(known))})"
            )
        if self.product_probe not in self.probes:
            raise ValueError(f"fridge {self.name}: product probe {self.product_probe!r} is not one of {self.probes}")

    @property
    def requests_per_read(self) -> int:
        return len(self._blocks)

    def snapshot(self) -> AvailabilitySnapshot:
        """Whether the controller answers (as tracked by the line), for the API and telemetry."""
        return self.line.unit_snapshot(self.unit)

    async def read(self) -> FridgeReading:
        """Poll the controller once."""
        raw: dict[str, int | bool] = {}
        errors: dict[str, str] = {}
        for block in self._blocks:
            try:
                data = await self._read_block(block)
            except ModbusExceptionResponse as exc:
                errors.update(dict.fromkeys((p.name for p in block.points), exc.reason))
                continue
            raw.update(block_values(block, data))
        return decode_reading(
            self.map,
            raw,
            fridge=self.name,
            unit=self.unit,
            at=self._clock(),
            probes=self.probes,
            product_probe=self.product_probe,
            errors=errors,
        )

    async def _read_block(self, block: ReadBlock) -> list[int] | list[bool]:
        readers: dict[str, Any] = {
            "hr": self.line.read_holding,
            "ir": self.line.read_input,
            "coil": self.line.read_coils,
            "di": self.line.read_discrete,
        }
        return await readers[block.function](self.unit, block.address, block.count)

    async def _read_point(self, point: Point) -> int | bool:
        data = await self._read_block(ReadBlock(point.function, point.address, 1, (point,)))
        return data[0]

    def _writable(self, point: Point, allow_unverified: bool) -> None:
        if not point.writable:
            raise WriteRefused(f"{self.name}: {point.name} is read-only in map {self.map.model!r}")
        if not point.verified and not allow_unverified:
            raise WriteRefused(
                f"{self.name}: map {self.map.model!r} marks {point.name} (register {point.address}) as unverified "
                f"({point.source}); writing to an unconfirmed register could change another parameter. "
                "Confirm it in the controller's manual, then allow unverified writes explicitly."
            )

    async def write_setpoint(self, celsius: float, *, allow_unverified: bool = False) -> float:
        """Write the setpoint and read it back; returns the value the controller now holds."""
        point = self.map.setpoint
        if point is None:
            raise WriteRefused(f"{self.name}: map {self.map.model!r} has no setpoint register")
        self._writable(point, allow_unverified)
        if point.write_range is not None and not point.write_range[0] <= celsius <= point.write_range[1]:
            low, high = point.write_range
            raise WriteRefused(f"{self.name}: setpoint {celsius:g} °C is outside the allowed {low:g}..{high:g} °C")
        await self.line.write_register(self.unit, point.address, encode_number(point, celsius))
        held = decode_number(point, int(await self._read_point(point)))
        if abs(held - celsius) > point.scale / 2:
            raise WriteNotConfirmed(f"{self.name}: wrote setpoint {celsius:g} °C but the controller holds {held:g} °C")
        return held

    async def write_flags(self, changes: Mapping[str, bool], *, allow_unverified: bool = False) -> None:
        """Set or clear writable status bits (e.g. defrost_active=True starts a defrost) and confirm them."""
        if not changes:
            return
        point = self._flag_point(set(changes))
        self._writable(point, allow_unverified)
        try:
            value = encode_flag_write(point, changes)
        except ValueError as exc:
            raise WriteRefused(f"{self.name}: {exc}") from None
        await self.line.write_register(self.unit, point.address, value)
        flags, _alarms = decode_bits(point, await self._read_point(point))
        wrong = {name: flags.get(name) for name, on in changes.items() if flags.get(name) != on}
        if wrong:
            raise WriteNotConfirmed(f"{self.name}: flags after the write: {wrong}, wanted {dict(changes)}")

    def _flag_point(self, names: set[str]) -> Point:
        for point in self.map.points:
            if point.type == "bitfield" and names <= set(point.status_bits.values()):
                return point
        raise WriteRefused(f"{self.name}: no single status register in {self.map.model!r} holds {sorted(names)}")
