"""Typed failures of one Modbus request; every message names the line, the unit and the request."""

from __future__ import annotations

from dataclasses import dataclass

# Modbus application protocol v1.1b3, section 7 (exception codes).
EXCEPTION_NAMES = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x05: "acknowledge",
    0x06: "server device busy",
    0x07: "negative acknowledge",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}

# What an exception code usually means for a fixed register map, so a technician knows where to look.
_HINTS = {
    0x01: "the device does not support this function code",
    0x02: "the register is not mapped on this device: check the register map for this model and firmware",
    0x03: "the device rejected the value or the register count",
}


@dataclass(frozen=True)
class Request:
    """One Modbus request as the caller asked for it (addresses are protocol addresses, 0-based)."""

    function: str  # read_holding, read_input, read_coils, read_discrete, write_register, ...
    address: int
    count: int = 1

    def describe(self) -> str:
        span = f"0x{self.address:04X}" if self.count == 1 else f"0x{self.address:04X}+{self.count}"
        return f"{self.function.replace('_', ' ')} {span}"


class ModbusError(Exception):
    """A request on a Modbus line failed; `line`, `unit` and `request` say which."""

    def __init__(self, message: str, *, line: str, unit: int | None = None, request: Request | None = None):
        self.line = line
        self.unit = unit
        self.request = request
        where = f"{line}" + (f" unit {unit}" if unit is not None else "")
        what = f" {request.describe()}" if request is not None else ""
        super().__init__(f"{where}{what}: {message}")
        self.reason = message


class LineUnavailable(ModbusError):
    """The port cannot be opened or the connection dropped; the line reconnects with backoff."""


class NoResponse(ModbusError):
    """The unit did not answer within the timeout, after every retry."""


class InvalidResponse(ModbusError):
    """An answer arrived but does not fit the request (wrong length, wrong echo)."""


class ModbusExceptionResponse(ModbusError):
    """The unit answered with a Modbus exception: it is alive, but refused the request."""

    def __init__(self, code: int, *, line: str, unit: int, request: Request):
        self.code = code
        self.code_name = EXCEPTION_NAMES.get(code, "unknown exception")
        hint = _HINTS.get(code)
        message = f"exception {code:02X} ({self.code_name})" + (f": {hint}" if hint else "")
        super().__init__(message, line=line, unit=unit, request=request)
