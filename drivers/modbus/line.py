"""One physical Modbus line, shared by every driver whose devices hang on it.

RS485 is master/slave: only one request may be on the wire, and RTU frames are delimited by
silence. So each line has one asyncio lock held for a whole exchange (gap, request, reply,
retries), whichever driver asks: fridge controllers and the deposit machine on the same cable
are serialised here, not per driver. The line reconnects with backoff when the port is missing
or drops, and tracks each unit's availability (logged once when it goes down, once when back).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.client.base import ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer.rtu import FramerRTU
from pymodbus.pdu import ModbusPDU

from common.availability import Availability, AvailabilitySnapshot
from common.backoff import Backoff

from ..serialio import TraceHook
from .errors import (
    InvalidResponse,
    LineUnavailable,
    ModbusError,
    ModbusExceptionResponse,
    NoResponse,
    Request,
)
from .settings import LineSettings, make_client

log = logging.getLogger(__name__)

_MAX_REGISTERS = 125  # per read request (Modbus spec: 125 registers, 2000 bits)
_MAX_BITS = 2000

Call = Callable[[Any], Awaitable[ModbusPDU]]


class ModbusLine:
    """Async Modbus master for one line; every public method is safe to call from any task."""

    def __init__(
        self,
        name: str,
        settings: LineSettings,
        *,
        trace: TraceHook | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings
        self.availability = Availability(f"modbus line {name}", log)
        self.stats = {"requests": 0, "retries": 0, "no_response": 0, "exceptions": 0, "reconnects": 0}
        self._trace = trace
        self._rx_seen = b""
        self._reply_header = b""
        self._backoff = backoff or Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        self._clock = clock
        self._lock = asyncio.Lock()
        self._client: ModbusBaseClient | None = None  # built on first use: pymodbus needs a running loop
        self._connect_after = 0.0  # monotonic time before which no reconnect is tried
        self._last_frame_at = -1e9
        self._units: dict[int, Availability] = {}
        self._labels: dict[int, str] = {}

    # ----- availability -------------------------------------------------------------------------

    def label_unit(self, unit: int, label: str) -> None:
        """Name a unit in logs and snapshots (e.g. "fridge kuehl-1"); call before the first request."""
        self._labels[unit] = label

    def unit_availability(self, unit: int) -> Availability:
        if unit not in self._units:
            label = self._labels.get(unit, f"unit {unit}")
            self._units[unit] = Availability(f"{label} on modbus line {self.name}", log)
        return self._units[unit]

    def unit_snapshot(self, unit: int) -> AvailabilitySnapshot:
        return self.unit_availability(unit).snapshot()

    # ----- connection ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def connect(self) -> bool:
        """Try to open the port now (ignoring backoff); False when it cannot be opened."""
        async with self._lock:
            try:
                await self._open()
            except LineUnavailable:
                return False
            return True

    async def close(self) -> None:
        """Close the port; a later request opens it again. Safe to call twice."""
        async with self._lock:
            self._discard_client()

    async def _open(self) -> None:
        """Open the port unless it is open; raises LineUnavailable (and schedules the next try) on failure."""
        if self.connected:
            return
        now = self._clock()
        if now < self._connect_after:
            error = self.availability.last_error or "port not open"
            raise LineUnavailable(f"{error} (next try in {self._connect_after - now:.1f} s)", line=self.name)
        self.stats["reconnects"] += 1
        if self._client is None:
            self._client = make_client(self.settings, self.name, self._trace_packet)
        try:
            opened = await asyncio.wait_for(self._client.connect(), self.settings.timeout_s + 5.0)
        except (TimeoutError, OSError, ModbusException) as exc:
            opened, reason = False, str(exc) or type(exc).__name__
        else:
            reason = "cannot open the port"
        if not opened or not self.connected:
            self._discard_client()
            self._connect_after = self._clock() + self._backoff.next_delay()
            target = self.settings.port or self.settings.tcp
            self.availability.mark_down(f"{target}: {reason}")
            raise LineUnavailable(f"{target}: {reason}", line=self.name)
        self._backoff.reset()
        self._rx_seen = b""
        self.availability.mark_up()

    def _discard_client(self) -> None:
        """Close the connection; the next one gets a fresh client (on whichever loop is running then)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _drop(self, reason: str) -> str:
        """The connection dropped mid-request: close it; the next request reconnects after a backoff."""
        self._discard_client()
        self._connect_after = self._clock() + self._backoff.next_delay()
        self.availability.mark_down(reason)
        return reason

    # ----- the one place a request goes out -----------------------------------------------------

    async def _execute(self, unit: int, request: Request, call: Call) -> ModbusPDU:
        """Send one request under the line lock: gap, send, wait, retry on silence; classify the outcome."""
        async with self._lock:
            units = self.unit_availability(unit)
            try:
                await self._open()
            except LineUnavailable as exc:
                units.mark_down(f"line down: {exc.reason}")
                raise LineUnavailable(exc.reason, line=self.name, unit=unit, request=request) from None
            attempts = self.settings.retries + 1
            for attempt in range(attempts):
                if attempt:
                    self.stats["retries"] += 1
                await self._quiet_gap()
                self.stats["requests"] += 1
                try:
                    response = await self._exchange(call)
                except _Silence:
                    continue
                except _Lost as lost:
                    reason = self._drop(f"connection lost: {lost}")
                    units.mark_down(f"line down: {reason}")
                    raise LineUnavailable(reason, line=self.name, unit=unit, request=request) from None
                units.mark_up()
                if response.isError():
                    self.stats["exceptions"] += 1
                    code = int(getattr(response, "exception_code", 0))
                    raise ModbusExceptionResponse(code, line=self.name, unit=unit, request=request)
                return response
            self.stats["no_response"] += 1
            message = f"no answer within {self.settings.timeout_ms:g} ms ({attempts} attempts)"
            units.mark_down(message)
            raise NoResponse(message, line=self.name, unit=unit, request=request)

    async def _exchange(self, call: Call) -> ModbusPDU:
        """One request/response on the wire; maps pymodbus outcomes to _Silence or _Lost."""
        # pymodbus waits `timeout` for the reply; the outer deadline only guards against a hang.
        deadline = self.settings.timeout_s + 1.0
        try:
            return await asyncio.wait_for(call(self._client), deadline)
        except ConnectionException as exc:
            raise _Lost(str(exc)) from None
        except (ModbusIOException, TimeoutError) as exc:
            if not self.connected:
                raise _Lost("port closed or disconnected") from None
            raise _Silence(str(exc)) from None
        except ModbusException as exc:  # undecodable reply: count it as no valid answer
            raise _Silence(str(exc)) from None
        finally:
            self._last_frame_at = self._clock()

    async def _quiet_gap(self) -> None:
        """Keep the line silent for the inter-frame gap since the last reply (or timeout)."""
        wait = self._last_frame_at + self.settings.gap_s - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """pymodbus hook: report each frame sent and each new chunk received (pymodbus passes its buffer)."""
        if sending:
            self._rx_seen = b""
            self._reply_header = data[:2]  # RTU: unit id + function code of the request in flight
        if self._trace is not None:
            if sending:
                self._trace("tx", data)
            else:
                fresh = data[len(self._rx_seen) :] if data.startswith(self._rx_seen) else data
                self._rx_seen = data
                if fresh:
                    self._trace("rx", fresh)
        if sending or not self.settings.is_rtu:
            return data
        return _skip_noise(data, self._reply_header)

    # ----- public requests ----------------------------------------------------------------------

    async def read_holding(self, unit: int, address: int, count: int) -> list[int]:
        """Function 03: `count` holding registers from `address`, as unsigned 16-bit values."""
        request = _checked(unit, Request("read_holding", address, count), _MAX_REGISTERS)
        response = await self._execute(
            unit, request, lambda c: c.read_holding_registers(address, count=count, device_id=unit)
        )
        return self._registers(response, unit, request)

    async def read_input(self, unit: int, address: int, count: int) -> list[int]:
        """Function 04: `count` input registers from `address`, as unsigned 16-bit values."""
        request = _checked(unit, Request("read_input", address, count), _MAX_REGISTERS)
        response = await self._execute(
            unit, request, lambda c: c.read_input_registers(address, count=count, device_id=unit)
        )
        return self._registers(response, unit, request)

    async def read_coils(self, unit: int, address: int, count: int) -> list[bool]:
        """Function 01."""
        request = _checked(unit, Request("read_coils", address, count), _MAX_BITS)
        response = await self._execute(unit, request, lambda c: c.read_coils(address, count=count, device_id=unit))
        return self._bits(response, unit, request)

    async def read_discrete(self, unit: int, address: int, count: int) -> list[bool]:
        """Function 02 (discrete inputs)."""
        request = _checked(unit, Request("read_discrete", address, count), _MAX_BITS)
        response = await self._execute(
            unit, request, lambda c: c.read_discrete_inputs(address, count=count, device_id=unit)
        )
        return self._bits(response, unit, request)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        """Function 06; `value` is the raw unsigned register (encode signed values first)."""
        request = _checked(unit, Request("write_register", address, 1), 1)
        _check_register_values([value])
        response = await self._execute(unit, request, lambda c: c.write_register(address, value, device_id=unit))
        echoed = (getattr(response, "address", None), list(getattr(response, "registers", [])))
        if echoed != (address, [value]):
            raise InvalidResponse(f"echo {echoed} does not match the write", line=self.name, unit=unit, request=request)

    async def write_registers(self, unit: int, address: int, values: list[int]) -> None:
        """Function 16."""
        request = _checked(unit, Request("write_registers", address, len(values)), 123)
        _check_register_values(values)
        await self._execute(unit, request, lambda c: c.write_registers(address, values, device_id=unit))

    async def write_coil(self, unit: int, address: int, value: bool) -> None:
        """Function 05."""
        request = _checked(unit, Request("write_coil", address, 1), 1)
        await self._execute(unit, request, lambda c: c.write_coil(address, bool(value), device_id=unit))

    def _registers(self, response: ModbusPDU, unit: int, request: Request) -> list[int]:
        registers = list(response.registers)
        if len(registers) != request.count:
            raise InvalidResponse(
                f"{len(registers)} registers in the reply, expected {request.count}",
                line=self.name,
                unit=unit,
                request=request,
            )
        return registers

    def _bits(self, response: ModbusPDU, unit: int, request: Request) -> list[bool]:
        bits = list(response.bits)
        if len(bits) < request.count:  # replies are padded to whole bytes; fewer means a short reply
            raise InvalidResponse(
                f"{len(bits)} bits in the reply, expected {request.count}", line=self.name, unit=unit, request=request
            )
        return bits[: request.count]


def _skip_noise(data: bytes, header: bytes) -> bytes:
    """Drop line noise in front of an RTU reply (e.g. a 0x00 or 0xFF glitch when the RS485 driver turns around).

    pymodbus's RTU framer hunts for a frame, but when noise happens to look like a frame header it
    checks the CRC of that false frame and discards the whole buffer, real reply included. A reply
    starts with the unit id and the function code (or its exception form, code | 0x80): the first
    such position that holds a complete frame with a good CRC wins; while the reply is still
    arriving, the first plausible header is kept. The trace still shows the noise.
    """
    if len(header) < 2 or len(data) < 2:
        return data
    answers = (header, bytes([header[0], header[1] | 0x80]))
    first: int | None = None
    for start in range(len(data) - 1):
        if data[start : start + 2] not in answers:
            continue
        if _is_whole_reply(data[start:]):
            return data[start:]
        first = start if first is None else first
    return data if first is None else data[first:]


def _is_whole_reply(buffer: bytes) -> bool:
    """True when `buffer` begins with a complete RTU reply whose CRC is right."""
    function = buffer[1]
    if function & 0x80:
        size = 5  # unit, function | 0x80, exception code, CRC
    elif function in (1, 2, 3, 4):
        if len(buffer) < 3:
            return False
        size = 5 + buffer[2]  # unit, function, byte count, data, CRC
    else:
        size = 8  # write echo: unit, function, address, value or count, CRC
    if len(buffer) < size:
        return False
    return FramerRTU.check_CRC(buffer[: size - 2], buffer[size - 2] << 8 | buffer[size - 1])


class _Silence(Exception):
    """No (valid) answer to one attempt."""


class _Lost(Exception):
    """The connection is gone."""


def _checked(unit: int, request: Request, max_count: int) -> Request:
    """Reject a wrong call before it reaches the wire."""
    if not 1 <= unit <= 247:
        raise ValueError(f"Modbus unit must be 1-247, not {unit}")
    if not 0 <= request.address <= 0xFFFF:
        raise ValueError(f"Modbus address must be 0-65535, not {request.address}")
    if not 1 <= request.count <= max_count or request.address + request.count > 0x10000:
        raise ValueError(f"cannot {request.describe()}: count must be 1-{max_count} within the address space")
    return request


def _check_register_values(values: list[int]) -> None:
    for value in values:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"register value {value} is not an unsigned 16-bit number")


__all__ = ["LineSettings", "ModbusError", "ModbusLine"]
