"""Transports (pyserial URL, USB through python-escpos), the config section, and the python-escpos import."""

from __future__ import annotations

import os
import pickle
import platform
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from drivers.printer import (
    Fault,
    Printer,
    PrintRefused,
    SerialPrinterTransport,
    UsbTransport,
    escposlib,
    open_transport,
    parse_usb_port,
)
from drivers.serialio import TransportError
from simulators.printer import PrinterSimulator
from station.config.printer import PrinterConfig


class FakeUsbTimeout(Exception):
    pass


class FakeUsbDevice:
    """Stands in for pyusb's device: an IN endpoint holding the bytes the printer sent."""

    def __init__(self) -> None:
        self.replies = bytearray()
        self.reads: list[tuple[int, int, int]] = []

    def read(self, endpoint: int, size: int, timeout: int) -> bytes:
        self.reads.append((endpoint, size, timeout))
        if not self.replies:
            raise FakeUsbTimeout("timeout")
        chunk = bytes(self.replies[:size])
        del self.replies[:size]
        return chunk


class FakeEscposUsb:
    """Stands in for escpos.printer.Usb: records what it was built with and what was written."""

    instances: ClassVar[list[FakeEscposUsb]] = []
    answers: ClassVar[dict[int, int]] = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x72}  # paper out

    def __init__(self, vendor: int, product: int, **kwargs: Any) -> None:
        self.ids, self.kwargs = (vendor, product), kwargs
        self.written = bytearray()
        self.device: FakeUsbDevice | None = None
        self.threads: set[str] = set()
        FakeEscposUsb.instances.append(self)

    def open(self) -> None:
        self.device = FakeUsbDevice()

    def _raw(self, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        self.written += data
        if data[:2] == b"\x10\x04" and self.device is not None:
            self.device.replies.append(self.answers[data[2]])

    def close(self) -> None:
        self.device = None


@pytest.fixture
def fake_usb(monkeypatch: pytest.MonkeyPatch) -> type[FakeEscposUsb]:
    FakeEscposUsb.instances.clear()
    monkeypatch.setattr("drivers.printer.transport._is_usb_timeout", lambda exc: isinstance(exc, FakeUsbTimeout))
    return FakeEscposUsb


def test_port_settings_choose_the_transport() -> None:
    assert parse_usb_port("usb:04b8:0202") == (0x04B8, 0x0202)
    assert parse_usb_port("usb:4b8:202") is None and parse_usb_port("/dev/ttyUSB0") is None
    assert isinstance(open_transport("usb:04b8:0202"), UsbTransport)
    assert isinstance(open_transport("socket://printer:9100"), SerialPrinterTransport)
    with pytest.raises(ValueError, match="usb:VID:PID"):
        open_transport("usb:printer")


async def test_usb_printer_status_and_job_through_python_escpos_usb(fake_usb) -> None:
    transport = UsbTransport("usb:04b8:0202", in_ep=0x81, out_ep=0x02, write_timeout_s=5, factory=fake_usb)
    printer = Printer("usb:04b8:0202", transport=transport, status_timeout_s=0.3)
    with pytest.raises(PrintRefused) as refused:
        await printer.print_job("usb-1", b"\x1b@hello\n")
    assert refused.value.fault is Fault.PAPER_OUT
    [usb] = fake_usb.instances
    assert usb.ids == (0x04B8, 0x0202) and usb.kwargs == {"timeout": 5000, "in_ep": 0x81, "out_ep": 0x02}
    assert bytes(usb.written) == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"  # nothing but the three queries
    assert usb.device is not None and (0x81, 1, 300) in usb.device.reads  # exactly one byte, 300 ms
    assert all(name.startswith("printer-usb-04b8-0202") for name in usb.threads)
    usb.device.replies += b"\x1a"  # a stale byte: drained before the next query, not taken as its answer
    status = await printer.status([1])
    assert status.ok and status.replies == {1: 0x12}
    await printer.stop()
    assert usb.device is None


async def test_usb_printer_that_is_not_plugged_in(fake_usb) -> None:
    class Missing(FakeEscposUsb):
        def open(self) -> None:
            raise RuntimeError("Device not found or cable not plugged in.")

    printer = Printer("usb:04b8:0202", transport=UsbTransport("usb:04b8:0202", factory=Missing))
    status = await printer.status()
    assert status.fault is Fault.PORT_UNAVAILABLE and "cable not plugged in" in (status.detail or "")
    await printer.stop()


async def test_serial_transport_over_loop_url_with_flow_control() -> None:
    transport = SerialPrinterTransport("loop://", flow_control="rtscts", write_timeout_s=1, name="loop")
    await transport.open()
    try:
        await transport.write(b"\x10\x04\x04")
        assert await transport.read_exact(3, 0.5) == b"\x10\x04\x04"  # loop:// reads back what was written
    finally:
        await transport.close()
    with pytest.raises(TransportError):
        await transport.write(b"x")


def test_config_section() -> None:
    config = PrinterConfig(port="socket://192.168.1.40:9100")
    assert config.code_page == "CP858" and config.columns == 48 and config.status_timeout_ms == 500
    assert config.driver_options()["status_timeout_s"] == 0.5
    assert config.render_options() == {"language": "de", "columns": 48, "qr_size": 4}
    assert PrinterConfig(port="usb:04b8:0202").port == "usb:04b8:0202"
    for bad in ({"port": "usb:04b8"}, {"port": "printer.local:9100"}, {"port": "/dev/ttyS0", "paper": 80}):
        with pytest.raises(ValidationError):
            PrinterConfig(**bad)
    with pytest.raises(ValidationError):
        PrinterConfig(port="/dev/ttyS0", code_page="CP437")


def test_escpos_capability_cache_is_private_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(escposlib.PICKLE_DIR_ENV, raising=False)
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    chosen = escposlib.configure_capability_cache()
    assert chosen == str(tmp_path / "cache" / "station" / "escpos") and os.environ[escposlib.PICKLE_DIR_ENV] == chosen
    assert (Path(chosen).stat().st_mode & 0o777) == 0o700


def test_escpos_capability_cache_refuses_a_shared_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(escposlib.PICKLE_DIR_ENV, raising=False)
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    shared = tmp_path / "cache" / "station" / "escpos"
    shared.mkdir(parents=True)
    shared.chmod(0o777)  # anyone could plant a pickle here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert escposlib.configure_capability_cache() is None
    assert escposlib.PICKLE_DIR_ENV not in os.environ


IMPORT_ESCPOS = "from drivers.printer.escposlib import escpos_printer; escpos_printer().Dummy().set(bold=True)"


def _importers(cache: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` processes importing python-escpos at the same moment, with `cache` as the pickle directory."""
    env = {**os.environ, escposlib.PICKLE_DIR_ENV: str(cache)}
    root = Path(__file__).resolve().parents[2]
    return [
        subprocess.Popen([sys.executable, "-c", IMPORT_ESCPOS], cwd=root, env=env, stderr=subprocess.PIPE)
        for _ in range(count)
    ]


def _pickle_loads(cache: Path) -> bool:
    (pickled,) = cache.glob("*.capabilities.pickle")
    with pickled.open("rb") as file:
        return "profiles" in pickle.load(file)


def test_processes_importing_escpos_at_once_wait_for_the_first_to_write_the_cache(tmp_path: Path) -> None:
    """python-escpos truncates its pickle a second before writing it; a second importer must not read it then."""
    cache = tmp_path / "escpos"
    cache.mkdir(mode=0o700)
    for process in _importers(cache, 3):
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
    assert _pickle_loads(cache)


def test_an_empty_capability_pickle_left_by_a_killed_process_is_built_again(tmp_path: Path) -> None:
    cache = tmp_path / "escpos"
    cache.mkdir(mode=0o700)
    (cache / f"{platform.python_version()}.capabilities.pickle").write_bytes(b"")  # killed before pickle.dump
    (process,) = _importers(cache, 1)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert _pickle_loads(cache)


async def test_network_printer_socket_sends_without_nagle_delay() -> None:
    """Each 1 KiB chunk and the status query after a job leave at once, not after the printer's delayed ACK."""
    async with PrinterSimulator() as sim:
        transport = SerialPrinterTransport(await sim.start_tcp(), name="nodelay")
        await transport.open()
        try:
            sock = transport._port._socket  # type: ignore[union-attr]
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            await transport.close()
