"""A simulated RS485 line of temperature controllers, served by pymodbus over TCP and over a pty.

Why pymodbus's `SimDevice` API (3.15+) and not the legacy datastore: addresses are 0-based as on
the wire, unmapped addresses answer exception 02 like a real controller, and the async `action`
callback lets each access render registers from the thermal model and refuse bad writes; the
legacy datastore is 1-based, deprecated and removed in pymodbus 4.

Transports. `start_tcp()` serves RTU frames over TCP (the driver opens `socket://127.0.0.1:PORT`).
`start_pty()` returns a pty path: pymodbus's serial server can only open a port by path, and the
device end of a pty (the master fd in `PtyLink`) has none, so the pty master is bridged byte for
byte to a loopback connection to the same RTU server. Same framer, same devices, no pymodbus
internals touched. `start_tcp(framer="socket")` serves Modbus TCP (MBAP) for gateway tests.

Faults that need the wire (silence, broken CRC) are applied in the server's `trace_packet` hook;
requests for unit ids that are not on the bus are answered by nobody, as on real RS485.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.fridge.registermap import Point, RegisterMap
from simulators.link import PtyLink

from .device import SimulatedController
from .thermal import ManualClock, ThermalParams

_FUNCTIONS = {1: "coil", 5: "coil", 15: "coil", 2: "di", 3: "hr", 6: "hr", 16: "hr", 4: "ir"}
_READS = {1, 2, 3, 4}


def wire_seconds(function_code: int, count: int, baud: int) -> float:
    """Time request + reply take on an RTU line at `baud` (10 bits per byte, 8N1)."""
    data = (count + 7) // 8 if function_code in (1, 2, 15) else 2 * count
    sizes = {1: (8, 5 + data), 2: (8, 5 + data), 3: (8, 5 + data), 4: (8, 5 + data), 5: (8, 8), 6: (8, 8)}
    request, reply = sizes.get(function_code, (9 + data, 8))
    return (request + reply) * 10 / baud


class FridgeBusSimulator:
    """Several controllers (one register map) on one simulated line, plus any extra `SimDevice`s.

    Control API: `controller(unit)` gives the `SimulatedController` (open_door, load_warm_goods,
    start_defrost, fail_probe, force_alarm, faults, air_c); `advance(seconds)` moves a `ManualClock`.
    `frames` records (monotonic time, "rx"/"tx", bytes) as seen by the device side.
    """

    def __init__(
        self,
        register_map: RegisterMap,
        units: Mapping[int, ThermalParams] | Iterable[int],
        *,
        clock: Callable[[], float] | None = None,
        seed: int = 1,
        noise_k: float = 0.05,
        extra_devices: Sequence[SimDevice] = (),
        wire_baud: int | None = None,
    ) -> None:
        self.map = register_map
        self.clock = clock or ManualClock()
        params = dict(units) if isinstance(units, Mapping) else {u: ThermalParams() for u in units}
        self.controllers = {
            unit: SimulatedController(
                unit, register_map, p, self.clock, random.Random(seed * 1000 + unit), noise_k=noise_k
            )
            for unit, p in params.items()
        }
        self.extra_devices = list(extra_devices)
        self.wire_baud = wire_baud
        self.frames: deque[tuple[float, str, bytes]] = deque(maxlen=5000)
        self._known = set(self.controllers) | {d.id for d in self.extra_devices}
        if 0 in self._known or not all(1 <= u <= 247 for u in self._known):
            raise ValueError("unit ids must be 1-247")
        self._servers: list[ModbusTcpServer] = []
        self._rtu_address: tuple[str, int] | None = None
        self._bridges: list[tuple[PtyLink, asyncio.StreamWriter, list[asyncio.Task[None]]]] = []
        self._rx_seen = b""

    def controller(self, unit: int) -> SimulatedController:
        return self.controllers[unit]

    def advance(self, seconds: float) -> None:
        """Move simulated time (ManualClock only) and bring every model up to it."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the simulator to run on a ManualClock")
        self.clock.advance(seconds)
        for controller in self.controllers.values():
            controller.sync()

    # ----- pymodbus devices ---------------------------------------------------------------------

    def _devices(self) -> list[SimDevice]:
        devices = [self._device(unit) for unit in self.controllers]
        # Catch-all for unit ids nobody has: its replies are dropped in _trace (absent units stay silent).
        devices.append(SimDevice(id=0, simdata=[SimData(0, datatype=DataType.INVALID)]))
        return devices + self.extra_devices

    def _device(self, unit: int) -> SimDevice:
        spaces: dict[str, list[SimData]] = {"coil": [], "di": [], "hr": [], "ir": []}
        for point in self.map.points:
            if point.is_bit:
                spaces[point.function].append(SimData(point.address, values=[False], datatype=DataType.BITS))
            else:
                spaces[point.function].append(
                    SimData(point.address, values=[0], datatype=DataType.REGISTERS, readonly=not point.writable)
                )
        # pymodbus rejects an empty space: an unused register space gets one invalid address (answers
        # exception 02); an unused bit space gets 16 bits at the very top of the address range.
        if not spaces["hr"]:
            spaces["hr"].append(SimData(0, datatype=DataType.INVALID))
        if not spaces["ir"]:
            spaces["ir"].append(SimData(0, datatype=DataType.INVALID))
        for name in ("coil", "di"):
            if not spaces[name]:
                spaces[name].append(SimData(0xFFF0, values=[False] * 16, datatype=DataType.BITS))
        simdata = (spaces["coil"], spaces["di"], spaces["hr"], spaces["ir"])
        return SimDevice(id=unit, simdata=simdata, action=functools.partial(self._on_access, unit))

    async def _on_access(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this on every valid access: apply writes to the model, render registers for reads."""
        controller = self.controllers[unit]
        if controller.faults.silent:
            return ExcCodes.DEVICE_FAILURE  # no side effects; the reply is dropped in _trace
        if controller.faults.reply_delay_s:
            await asyncio.sleep(controller.faults.reply_delay_s)
        if self.wire_baud and (function_code in _READS or set_values is not None):
            await asyncio.sleep(wire_seconds(function_code, count, self.wire_baud))
        controller.sync()
        function = _FUNCTIONS[function_code]
        if set_values is not None:
            for offset, value in enumerate(set_values):
                point = self._point_at(function, address + offset)
                if point is None:
                    return ExcCodes.ILLEGAL_ADDRESS
                refused = controller.apply_write(point, int(value))
                if refused is not None:
                    return refused
            return None
        if function_code in _READS:  # writes read back their own values for the echo: leave those alone
            self._render(controller, function, start_address, registers)
        return None

    def _point_at(self, function: str, address: int) -> Point | None:
        return next((p for p in self.map.points if p.function == function and p.address == address), None)

    def _render(self, controller: SimulatedController, function: str, start: int, registers: list[int]) -> None:
        for point in self.map.points:
            if point.function != function:
                continue
            value = controller.render(point)
            if point.is_bit:  # bit spaces are packed 16 to a register, bit 0 first
                index, bit = point.address // 16 - start, point.address % 16
                registers[index] = (registers[index] & ~(1 << bit)) | (value << bit)
            else:
                registers[point.address - start] = value

    def _trace(self, unit_offset: int, sending: bool, data: bytes) -> bytes:
        """Server-side wire hook: record frames, drop replies of silent/absent units, apply wire faults.

        `unit_offset` is where the unit id sits: 0 in an RTU frame, 6 in a Modbus TCP (MBAP) frame.
        """
        now = time.monotonic()
        if not sending:
            fresh = data[len(self._rx_seen) :] if data.startswith(self._rx_seen) else data
            self._rx_seen = data
            if fresh:
                self.frames.append((now, "rx", fresh))
            return data
        self._rx_seen = b""
        unit = data[unit_offset] if len(data) > unit_offset else 0
        controller = self.controllers.get(unit)
        if unit not in self._known or (controller is not None and controller.faults.silent):
            return b""
        if controller is not None:
            faults = controller.faults
            if faults.corrupt_crc:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            if faults.truncate_reply:
                data = data[:-3]
            data = faults.garbage_before_reply + data
        self.frames.append((now, "tx", data))
        return data

    # ----- transports ---------------------------------------------------------------------------

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0, framer: str = "rtu") -> str:
        """Serve the bus over TCP; returns `socket://host:port` (RTU) or `host:port` (framer="socket")."""
        server = ModbusTcpServer(
            self._devices(),
            framer=FramerType.RTU if framer == "rtu" else FramerType.SOCKET,
            address=(host, port),
            ignore_missing_devices=True,
            trace_packet=functools.partial(self._trace, 0 if framer == "rtu" else 6),
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        bound = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if framer == "rtu":
            self._rtu_address = self._rtu_address or (host, bound)
            return f"socket://{host}:{bound}"
        return f"{host}:{bound}"

    async def start_pty(self) -> str:
        """Serve the bus on a new pty; returns the path the driver opens like a serial port."""
        if self._rtu_address is None:
            await self.start_tcp()
        assert self._rtu_address is not None
        link = PtyLink()
        reader, writer = await asyncio.open_connection(*self._rtu_address)
        tasks = [
            asyncio.create_task(self._pty_to_server(link, writer), name=f"fridge-sim-pty-up-{link.path}"),
            asyncio.create_task(self._server_to_pty(reader, link), name=f"fridge-sim-pty-down-{link.path}"),
        ]
        self._bridges.append((link, writer, tasks))
        return link.path

    @staticmethod
    async def _pty_to_server(link: PtyLink, writer: asyncio.StreamWriter) -> None:
        while data := await link.read():
            writer.write(data)
            await writer.drain()

    @staticmethod
    async def _server_to_pty(reader: asyncio.StreamReader, link: PtyLink) -> None:
        while data := await reader.read(4096):
            link.write(data)

    async def stop(self) -> None:
        """Close every pty and server; safe to call twice."""
        bridges, self._bridges = self._bridges, []
        for link, writer, tasks in bridges:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
            link.close()
            writer.close()
        servers, self._servers = self._servers, []
        for server in servers:
            await server.shutdown()
        self._rtu_address = None
