"""Byte transports for the receipt printer: any pyserial URL, or USB through python-escpos.

`open_transport(port)` picks the transport from the port setting:
- a pyserial URL (`/dev/ttyUSB0`, a pty path, `socket://host:9100` for a network printer, `loop://`):
  `SerialPrinterTransport`, the shared serial transport with the printer's flow control and a
  longer write timeout (the printer stops reading while it cuts or its buffer is full);
- `usb:VID:PID` (hex, e.g. `usb:04b8:0202`): `UsbTransport`, python-escpos's `Usb` class for
  claiming the device and writing, and pyusb's endpoint read (exact size, with a timeout) for status.

Both run their blocking calls in one named worker thread and raise `TransportError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import socket
from collections.abc import Callable
from typing import Any, Literal, Protocol

import serial

from ..serialio import SerialTransport, TraceHook, TransportError
from .escposlib import escpos_printer

FlowControl = Literal["none", "rtscts", "dsrdtr", "xonxoff"]
_USB_PORT = re.compile(r"^usb:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$")


class PrinterTransport(Protocol):
    """What the printer driver needs from a byte link."""

    url: str

    @property
    def is_open(self) -> bool: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def write(self, data: bytes) -> None: ...

    async def reset_input(self) -> bytes: ...

    async def read_exact(self, size: int, timeout: float) -> bytes: ...  # noqa: ASYNC109


def parse_usb_port(port: str) -> tuple[int, int] | None:
    """(vendor id, product id) for `usb:VID:PID`, None for anything else."""
    match = _USB_PORT.match(port)
    return (int(match[1], 16), int(match[2], 16)) if match else None


class SerialPrinterTransport(SerialTransport):
    """The shared pyserial transport, opened with flow control and a write timeout for printing."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 9600,
        flow_control: FlowControl = "none",
        write_timeout_s: float = 10.0,
        name: str | None = None,
        trace: TraceHook | None = None,
    ) -> None:
        super().__init__(url, baudrate=baudrate, name=name, trace=trace)
        self.flow_control = flow_control
        self.write_timeout_s = write_timeout_s

    async def open(self) -> None:
        if self.is_open:
            return
        flow = {
            "rtscts": self.flow_control == "rtscts",
            "dsrdtr": self.flow_control == "dsrdtr",
            "xonxoff": self.flow_control == "xonxoff",
        }

        def _open() -> serial.SerialBase:
            port = serial.serial_for_url(
                self.url, timeout=0, write_timeout=self.write_timeout_s, **self._settings, **flow
            )
            sock = getattr(port, "_socket", None)  # socket:// (pyserial 3.5 keeps it there)
            if sock is not None:
                # Without this, Nagle holds each chunk and the status query after a job until the
                # printer's delayed ACK (40 ms or more per write).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return port

        self._port = await self._call(_open)


UsbFactory = Callable[..., Any]


def _escpos_usb(vendor_id: int, product_id: int, **kwargs: Any) -> Any:
    return escpos_printer().Usb(vendor_id, product_id, **kwargs)  # imported on first use: serial never needs it


class UsbTransport:
    """A USB printer claimed through python-escpos's `Usb`; reads go to the IN endpoint with a timeout."""

    def __init__(
        self,
        url: str,
        *,
        in_ep: int = 0x82,
        out_ep: int = 0x01,
        write_timeout_s: float = 10.0,
        name: str | None = None,
        factory: UsbFactory = _escpos_usb,
    ) -> None:
        ids = parse_usb_port(url)
        if ids is None:
            raise ValueError(f"{url!r} is not a USB printer port (usb:VID:PID, hex)")
        self.url = url
        self.name = name or url.replace(":", "-")
        self._ids = ids
        self._in_ep, self._out_ep = in_ep, out_ep
        self._write_timeout_ms = int(write_timeout_s * 1000)
        self._factory = factory
        self._printer: Any = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def is_open(self) -> bool:
        return self._printer is not None

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"printer-{self.name}"
            )
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except TransportError:
            raise
        except Exception as exc:  # pyusb and python-escpos raise their own types (USBError, DeviceNotFoundError, …)
            raise TransportError(f"{self.url}: {exc}") from exc

    async def open(self) -> None:
        if self.is_open:
            return

        def _open() -> Any:
            printer = self._factory(*self._ids, timeout=self._write_timeout_ms, in_ep=self._in_ep, out_ep=self._out_ep)
            printer.open()
            if not printer.device:
                raise TransportError(f"{self.url}: USB printer not found")
            return printer

        self._printer = await self._call(_open)

    async def close(self) -> None:
        printer, self._printer = self._printer, None
        if printer is not None:
            try:
                await self._call(printer.close)
            except TransportError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def _require(self) -> Any:
        if self._printer is None:
            raise TransportError(f"{self.url}: port is not open")
        return self._printer

    async def write(self, data: bytes) -> None:
        printer = self._require()
        await self._call(printer._raw, data)  # python-escpos's raw write: the OUT endpoint with its timeout

    async def read_exact(self, size: int, timeout: float) -> bytes:  # noqa: ASYNC109 (pyusb enforces it)
        """Read up to `size` bytes within `timeout` s; python-escpos's own `_read()` takes 16 bytes and no timeout."""
        printer = self._require()

        def _read() -> bytes:
            try:
                return bytes(printer.device.read(self._in_ep, size, max(1, int(timeout * 1000))))
            except Exception as exc:
                if _is_usb_timeout(exc):
                    return b""
                raise

        data: bytes = await self._call(_read)
        return data

    async def reset_input(self) -> bytes:
        """Drain what the IN endpoint still holds (a late status byte) so it cannot answer the next query."""
        dropped = b""
        for _ in range(8):
            chunk = await self.read_exact(64, 0.01)
            if not chunk:
                break
            dropped += chunk
        return dropped


def _is_usb_timeout(exc: Exception) -> bool:
    try:
        import usb.core
    except ImportError:  # pragma: no cover - pyusb present whenever a device could be opened
        return False
    return isinstance(exc, usb.core.USBTimeoutError)


def open_transport(
    port: str,
    *,
    baudrate: int = 9600,
    flow_control: FlowControl = "none",
    write_timeout_s: float = 10.0,
    usb_in_ep: int = 0x82,
    usb_out_ep: int = 0x01,
    name: str | None = None,
    trace: TraceHook | None = None,
) -> PrinterTransport:
    """The transport for a port setting (not opened yet)."""
    if port.startswith("usb:"):
        return UsbTransport(port, in_ep=usb_in_ep, out_ep=usb_out_ep, write_timeout_s=write_timeout_s, name=name)
    return SerialPrinterTransport(
        port, baudrate=baudrate, flow_control=flow_control, write_timeout_s=write_timeout_s, name=name, trace=trace
    )
