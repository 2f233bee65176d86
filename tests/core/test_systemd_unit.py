"""The shipped systemd unit: its commands are ones the CLI accepts, and its hardening holds up
under `systemd-analyze security` (run offline against the file, as a reviewer would)."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from station.cli import build_parser
from tests.conftest import REPO

UNIT = REPO / "systemd" / "station.service"


def directives(name: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{name}=")]


@pytest.mark.parametrize("directive", ["ExecStartPre", "ExecStart"])
def test_the_unit_runs_commands_the_cli_accepts(directive: str) -> None:
    (command,) = directives(directive)
    program, *argv = shlex.split(command)
    assert program.endswith("/bin/station")
    args = build_parser().parse_args(argv)  # exits (SystemExit) on anything the CLI does not know
    assert callable(args.handler)


def test_the_unit_is_a_notify_service_with_a_watchdog() -> None:
    assert directives("Type") == ["notify"]
    assert int(directives("WatchdogSec")[0]) > 0
    assert directives("Restart") == ["always"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_hardening_exposure_stays_at_most_2_of_10() -> None:
    # --threshold is the exposure level x 10: the command fails above 2.0 ("OK" in systemd's words).
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Overall exposure level for station.service" in run.stdout
