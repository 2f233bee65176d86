"""Modbus master shared by every Modbus device driver: one `ModbusLine` per physical line.

Drivers (fridge controllers, the deposit machine) take a `ModbusLine` and a unit id and call
`read_holding`, `read_input`, `read_coils`, `read_discrete`, `write_register`, `write_registers`,
`write_coil`. Failures are `ModbusError` subclasses: `LineUnavailable` (port missing or dropped),
`NoResponse` (unit silent), `ModbusExceptionResponse` (unit refused: `.code`), `InvalidResponse`.
"""

from .errors import (
    EXCEPTION_NAMES,
    InvalidResponse,
    LineUnavailable,
    ModbusError,
    ModbusExceptionResponse,
    NoResponse,
    Request,
)
from .line import ModbusLine
from .settings import LineSettings

__all__ = [
    "EXCEPTION_NAMES",
    "InvalidResponse",
    "LineSettings",
    "LineUnavailable",
    "ModbusError",
    "ModbusExceptionResponse",
    "ModbusLine",
    "NoResponse",
    "Request",
]
