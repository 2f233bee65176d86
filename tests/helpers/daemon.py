"""Run the real daemon as a subprocess for tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import PYTHON, REPO


class DaemonProcess:
    def __init__(self, args: list[str], env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "station.cli", *args], cwd=REPO, env={**os.environ, **(env or {})},
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_http(self, url: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return json.loads(resp.read())
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{url} did not answer within {timeout} s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.log_path:
            self._log.close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())
