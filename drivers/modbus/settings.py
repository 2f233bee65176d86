"""Settings of one Modbus line, and the pymodbus client that speaks on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.framer import FramerType

PacketTrace = Callable[[bool, bytes], bytes]


@dataclass(frozen=True)
class LineSettings:
    """Field names match `ModbusLineConfig`, so `LineSettings(**section.model_dump())` works.

    Exactly one of `port` (a pyserial URL: `/dev/ttyUSB0`, a pty path, `socket://host:port` for an
    RS485-to-Ethernet bridge that forwards RTU frames) or `tcp` (`host[:port]` of a Modbus TCP device).
    """

    port: str | None = None
    tcp: str | None = None
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    gap_ms: float = 10.0
    timeout_ms: float = 500.0
    retries: int = 1
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        if (self.port is None) == (self.tcp is None):
            raise ValueError("a Modbus line needs exactly one of port (serial URL) or tcp (host:port)")
        if self.baudrate <= 0 or self.timeout_ms <= 0 or self.gap_ms < 0 or self.retries < 0:
            raise ValueError("baudrate and timeout_ms must be positive, gap_ms and retries not negative")
        if self.parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be N, E or O, not {self.parity!r}")

    @property
    def is_rtu(self) -> bool:
        """RTU framing (serial or RTU over a TCP bridge); False for Modbus TCP."""
        return self.port is not None

    @property
    def gap_s(self) -> float:
        """Silence before each request: the configured gap, never less than Modbus RTU's 3.5 characters."""
        configured = self.gap_ms / 1000
        if not self.is_rtu:
            return configured
        bits_per_char = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return max(configured, 3.5 * bits_per_char / self.baudrate)

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    if not port.isdigit():
        raise ValueError(f"{text!r}: the port must be a number")
    return host.strip("[]"), int(port)


def make_client(settings: LineSettings, name: str, trace: PacketTrace) -> ModbusBaseClient:
    """Build (not connect) the pymodbus client; pymodbus's own retries and reconnects are off (the line does both)."""
    common: dict[str, Any] = {
        "name": name, "timeout": settings.timeout_s, "retries": 0, "reconnect_delay": 0, "trace_packet": trace,
    }
    client: ModbusBaseClient
    if settings.tcp is not None:
        host, port = _host_port(settings.tcp, 502)
        client = AsyncModbusTcpClient(host, port=port, framer=FramerType.SOCKET, **common)
    elif settings.port is not None and settings.port.startswith("socket://"):
        # Same bytes as pyserial's socket:// handler, but pyserial connects synchronously (up to 5 s)
        # and would stall the event loop while a bridge is unreachable; asyncio connects without blocking.
        host, port = _host_port(settings.port.removeprefix("socket://"), 502)
        client = AsyncModbusTcpClient(host, port=port, framer=FramerType.RTU, **common)
    else:
        client = AsyncModbusSerialClient(
            str(settings.port),
            framer=FramerType.RTU,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            **common,
        )
    # pymodbus drops a TCP connection after a few unanswered requests in a row; on a shared line one
    # silent unit must not cut off the others, so the line decides when to reconnect.
    client.set_max_no_responses(1 << 30)
    return client
