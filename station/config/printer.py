"""Configuration of the ESC/POS receipt printer.

[printer]
port = "socket://192.168.1.40:9100"   # or "/dev/ttyUSB0", a pty path, or "usb:04b8:0202"
columns = 48                           # 80 mm paper with font A; 58 mm: 32
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from .base import Section, check_serial_url

_USB = re.compile(r"^usb:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")


class PrinterConfig(Section):
    """One receipt printer: where it is, how to talk to it, and what its paper holds."""

    port: str = Field(description="pyserial URL (/dev/ttyUSB0, socket://host:9100, a pty) or usb:VID:PID (hex)")
    baudrate: int = Field(default=9600, gt=0, description="serial printers only")
    flow_control: Literal["none", "rtscts", "dsrdtr", "xonxoff"] = Field(
        default="none", description="serial printers only; many Epson serial models use dsrdtr"
    )
    code_page: Literal["CP858"] = Field(
        default="CP858", description="fixed code page with the € sign (ESC t 19, € = D5); check the model's manual"
    )
    status_timeout_ms: float = Field(default=500.0, ge=50, le=5000, description="wait for each DLE EOT reply byte")
    write_timeout_s: float = Field(default=10.0, gt=0, le=120, description="one write of up to 1 KiB")
    columns: int = Field(default=48, ge=24, le=64, description="characters per line in font A (80 mm: 48, 58 mm: 32)")
    language: Literal["de", "en"] = Field(default="de", description="receipt language")
    qr_module_size: int = Field(default=4, ge=1, le=16, description="QR code dot size (GS ( k function 167)")
    usb_in_endpoint: int = Field(default=0x82, ge=0x81, le=0x8F, description="USB printers only")
    usb_out_endpoint: int = Field(default=0x01, ge=0x01, le=0x0F, description="USB printers only")
    status_poll_s: float = Field(
        default=30.0, ge=1, le=3600, description="status check between jobs (paper alarms, queue resumes)"
    )
    job_max_age_s: float = Field(
        default=300.0, ge=10, le=86_400,
        description="a queued job older than this is not printed any more (the shopper left; "
        "the digital receipt stays)",
    )

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        if value.startswith("usb:"):
            if not _USB.match(value):
                raise ValueError(f"{value!r}: expected usb:VID:PID with 4 hex digits each, e.g. usb:04b8:0202")
            return value
        return check_serial_url(value)

    def driver_options(self) -> dict[str, Any]:
        """Keyword arguments for `drivers.printer.Printer(port, **options)`."""
        return {
            "status_timeout_s": self.status_timeout_ms / 1000,
            "baudrate": self.baudrate,
            "flow_control": self.flow_control,
            "write_timeout_s": self.write_timeout_s,
            "usb_in_ep": self.usb_in_endpoint,
            "usb_out_ep": self.usb_out_endpoint,
        }

    def render_options(self) -> dict[str, Any]:
        """Keyword arguments for `station.receipts.render_receipt(kind, data, **options)`."""
        return {"language": self.language, "columns": self.columns, "qr_size": self.qr_module_size}
