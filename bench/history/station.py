"""The benchmark station: the demo config grown to 200 compartments on 10 boards and 4 fridges, as a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # tests.helpers: the demo config on free ports

from tests.helpers.demo import demo_config_text  # noqa: E402

COMPARTMENTS = 200
BOARDS = 10
PER_BOARD = COMPARTMENTS // BOARDS
ZONES = {"chilled": "chilled", "chilled-b": "chilled", "chilled-c": "chilled", "frozen": "frozen"}
SAMPLE_INTERVAL_S = 40  # 4 fridges x 1 product probe every 40 s = 8,640 HACCP readings a day


def zone_of(compartment: int) -> str | None:
    """Compartments 1-60 chilled in three fridges, 61-80 frozen, the rest ambient."""
    if compartment <= 60:
        return ("chilled", "chilled-b", "chilled-c")[(compartment - 1) // 20]
    return "frozen" if compartment <= 80 else None


def config_text(database: Path, retention_interval_s: float = 3600) -> tuple[str, int]:
    """(TOML, HTTP port): the demo's terminal, printer, deposit, NFC, staff; our lock wall and cold chain."""
    text, ports = demo_config_text(str(database), without_sync=True)
    wall_port = re.search(r'\[lock_buses\.wall-a\]\nport = "(socket://[^"]+)"', text)
    cold_port = re.search(r'\[modbus_lines\.cold\]\nport = "(socket://[^"]+)"', text)
    assert wall_port and cold_port
    text = re.sub(r"\[lock_buses\.wall-a\].*?(?=\[doors\])", "", text, flags=re.S)
    text = re.sub(r"\[\[compartments\]\].*?(?=# --- Card terminal)", "", text, flags=re.S)
    text = re.sub(r"\[fridges\.[^\]]+\].*?(?=# --- Deposit)", "", text, flags=re.S)
    text = text.replace("[simulation]\n", "[simulation]\ndoor_close_after_s = 0.5\n")  # shoppers who are quick
    parts = [text, f'[lock_buses.wall]\nport = "{wall_port.group(1)}"\nprotocol = "cu48"\ntimeout_ms = 300\n']
    parts += [f"[[lock_buses.wall.boards]]\naddress = {b}\n" for b in range(BOARDS)]
    for number in range(1, COMPARTMENTS + 1):
        board, lock = divmod(number - 1, PER_BOARD)
        zone = zone_of(number)
        parts.append(f'[[compartments]]\nid = {number}\nbus = "wall"\nboard = {board}\nlock = {lock + 1}\nsize = "M"\n'
                     + (f'zone = "{zone}"\n' if zone else ""))
    for unit, (zone, klass) in enumerate(ZONES.items(), start=1):
        parts.append(f'[fridges.fridge-{unit}]\nline = "cold"\nunit = {unit}\nmodel = "dixell-xr"\nzone = "{zone}"\n'
                     f"poll_s = 10\n")
        parts.append(f'[zones.{zone}]\ntemperature_class = "{klass}"\nalarm_delay_s = 900\n')
    parts.append(f"[haccp]\nsample_interval_s = {SAMPLE_INTERVAL_S}\n")
    parts.append(f"[retention]\ninterval_s = {retention_interval_s}\n")
    return "\n".join(parts), ports["http"]


class Daemon:
    """`station simulate --record` and `station run` in their own processes; stopped with SIGTERM."""

    def __init__(self, config: Path, workdir: Path, env: dict[str, str] | None = None, repo: Path = REPO) -> None:
        """`repo`: the checkout whose daemon runs (the simulators are always this checkout's)."""
        self.record = workdir / "physical.jsonl"
        self.record.write_text("")
        self._logs = [open(workdir / "simulate.log", "a"), open(workdir / "daemon.log", "a")]  # noqa: SIM115
        common = ["--config", str(config), "--log-format", "text"]
        self.sim = subprocess.Popen(
            [sys.executable, "-m", "station.cli", "simulate", *common, "--record", str(self.record)],
            cwd=REPO, stdout=self._logs[0], stderr=subprocess.STDOUT,
        )
        self._wait_record("ready")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station.cli", "run", *common, "--log-level", "WARNING"],
            cwd=repo, env={**os.environ, **(env or {})}, stdout=self._logs[1], stderr=subprocess.STDOUT,
        )
        self.log_path = workdir / "daemon.log"

    def _wait_record(self, event: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while f'"event": "{event}"' not in self.record.read_text():
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"simulators did not start: {(self.record.parent / 'simulate.log').read_text()}")
            time.sleep(0.1)

    def physical(self) -> list[dict[str, Any]]:
        """The physical record so far (pulses, doors, terminal approvals), one dict per line."""
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def wait_up(self, base: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as reply:
                    health = dict(json.loads(reply.read()))
                if all(c["status"] == "up" for c in health["components"].values()):
                    return health
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"not up within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def footprint(self, seconds: float) -> tuple[float, float]:
        """(RSS MB, CPU % of one core) of the daemon over the next `seconds` (utime + stime from /proc)."""
        pid = self.proc.pid

        def cpu_seconds() -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before, started = cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        cpu = (cpu_seconds() - before) / (time.monotonic() - started) * 100
        rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
        return rss_kb / 1024, cpu

    def stop(self) -> None:
        for proc in (self.proc, self.sim):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        for log in self._logs:
            log.close()
