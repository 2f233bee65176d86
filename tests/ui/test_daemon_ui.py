"""The page on a daemon without devices, and a prompt stop while a kiosk is connected."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port, minimal_config
from tests.helpers.daemon import DaemonProcess


def test_daemon_serves_the_page_and_stops_promptly_with_a_kiosk_connected(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "station.toml"
    config.write_text(minimal_config(tmp_path / "station.db", port))
    daemon = DaemonProcess(["run", "--config", str(config), "--log-format", "text"], log_path=tmp_path / "log")
    try:
        daemon.wait_http(f"http://127.0.0.1:{port}/api/health")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as page:
            page.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            html = b""
            while chunk := page.recv(65536):
                html += chunk
        assert html.startswith(b"HTTP/1.1 200") and b'data-screen="start"' in html
        assert b"SIMULATION" in html and b'data-banner="simulated" hidden' in html  # a real station: hidden
        with socket.create_connection(("127.0.0.1", port), timeout=5) as kiosk:
            kiosk.sendall(b"GET /api/events/ui HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            received = b""
            while b"event: status" not in received:
                chunk = kiosk.recv(4096)
                assert chunk, received
                received += chunk
            started = time.monotonic()
            daemon.proc.send_signal(signal.SIGTERM)
            assert daemon.proc.wait(timeout=10) == 0
            took = time.monotonic() - started
        assert took < 2.0, f"stop took {took:.1f} s with the event stream open"
        assert "stopping http failed" not in daemon.log()
    finally:
        daemon.stop()


def test_a_client_that_does_not_ask_for_a_stream_gets_the_status_once(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "station.toml"
    config.write_text(minimal_config(tmp_path / "station.db", port))
    daemon = DaemonProcess(["run", "--config", str(config), "--log-format", "text"], log_path=tmp_path / "log")
    try:
        daemon.wait_http(f"http://127.0.0.1:{port}/api/health")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/events/ui", timeout=5) as response:
            body = response.read().decode()  # ends: no live stream for a client that did not ask for one
        assert body.count("event: status") == 1 and '"station_id":"test-01"' in body
    finally:
        daemon.stop()
