"""`station config check` refuses what start-up refuses, with the same lines, and start-up never shows a traceback.

Every case of tests/core/broken_configs.py goes through `load_checked` and the real `config check`
command in-process; a representative subset (one or more per kind of fault) also runs as real
`station config check` and `station run` processes, and the whole list does under `-m slow`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from station.cli import main
from station.config import ConfigError, parse_config
from station.config.environment import check_serial_port, is_tty_device, load_checked
from station.config.overlay import apply_overlay
from tests.conftest import PYTHON, REPO, free_port, minimal_config
from tests.core.broken_configs import CASES, LOCKS, Case, expected, proc_sys_is_read_only, write_case
from tests.helpers.daemon import DaemonProcess

SUBSET = [case for case in CASES if "subprocess" in case.tags]


def _skip_unless_possible(case: Case) -> None:
    if "read-only" in case.tags and not proc_sys_is_read_only():
        pytest.skip("/proc/sys is writable here: no read-only folder to test with")


def _listed(stderr: str) -> list[str]:
    """The problem lines of a printed report (`  - ...` under the `FILE: invalid configuration` line)."""
    return [line.removeprefix("  - ") for line in stderr.splitlines()[1:]]


def _assert_names_problem(case: Case, folder: Path, problems: list[str]) -> None:
    start, says = expected(case, folder)
    assert any(p.startswith(start) and says in p for p in problems), (start, says, problems)


def test_the_list_is_long_enough_and_named_uniquely() -> None:
    assert len(CASES) >= 31
    assert len({case.name for case in CASES}) == len(CASES)
    assert {"db-is-folder", "fridge-unknown-model", "payment-port-99999", "http-host-256", "not-utf8"} <= {
        case.name for case in SUBSET
    }


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_check_names_the_path(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _skip_unless_possible(case)
    path = write_case(case, tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_checked(path)
    _assert_names_problem(case, tmp_path, caught.value.problems)
    assert main(["config", "check", str(path)]) == 2
    out = capsys.readouterr()
    assert out.err == f"{caught.value}\n" and out.out == ""


def _run_both(case: Case, folder: Path) -> tuple[subprocess.Popen[str], subprocess.Popen[str]]:
    path = write_case(case, folder)
    cli = [PYTHON, "-m", "station.cli"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": REPO}
    check = subprocess.Popen([*cli, "config", "check", str(path)], **pipes)  # type: ignore[call-overload]
    run = subprocess.Popen([*cli, "run", "--config", str(path), "--log-format", "text"], **pipes)  # type: ignore[call-overload]
    return check, run


def _assert_both_refuse(case: Case, folder: Path, check: subprocess.Popen[str], run: subprocess.Popen[str]) -> None:
    check_out, check_err = check.communicate(timeout=300)
    run_out, run_err = run.communicate(timeout=300)
    assert check.returncode == 2, (case.name, check_out, check_err)
    _assert_names_problem(case, folder, _listed(check_err))
    assert run.returncode == 2, (case.name, run_out, run_err)
    assert run_err == check_err, case.name  # the same problem list, line for line
    assert "Traceback" not in run_out + run_err
    assert "refusing to start" in run_out


def _run_cases(cases: list[Case], tmp_path: Path, at_once: int = 2) -> None:
    """Each case's two processes, `at_once` cases at a time (they only start Python and read a file)."""
    for first in range(0, len(cases), at_once):
        started = []
        for case in cases[first : first + at_once]:
            folder = tmp_path / case.name
            folder.mkdir()
            started.append((case, folder, *_run_both(case, folder)))
        for case, folder, check, run in started:
            _assert_both_refuse(case, folder, check, run)


@pytest.mark.timeout(600)  # ~20 Python start-ups: seconds on an idle machine, much longer on a busy one
def test_check_and_run_processes_refuse_alike(tmp_path: Path) -> None:
    _run_cases(SUBSET, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_check_and_run_processes_refuse_alike_every_case(tmp_path: Path) -> None:
    _run_cases([case for case in CASES if "read-only" not in case.tags or proc_sys_is_read_only()], tmp_path)


@pytest.mark.parametrize("case", [case for case in CASES if "demo" in case.tags], ids=lambda case: case.name)
def test_demo_prints_the_same_problem_list(case: Case, tmp_path: Path) -> None:
    path = write_case(case, tmp_path, extra="\n[simulation]\nenabled = true\n")
    cli = [PYTHON, "-m", "station.cli"]
    check = subprocess.run([*cli, "config", "check", str(path)], capture_output=True, text=True, cwd=REPO)
    demo = subprocess.run(
        [*cli, "demo", "--config", str(path), "--log-format", "text"], capture_output=True, text=True, cwd=REPO
    )
    assert (check.returncode, demo.returncode) == (2, 2)
    assert demo.stderr == check.stderr
    _assert_names_problem(case, tmp_path, _listed(check.stderr))
    assert "Traceback" not in demo.stdout + demo.stderr


def test_a_missing_device_is_a_warning_and_the_daemon_starts(tmp_path: Path) -> None:
    """A USB adapter may be unplugged while checking: warn, start, and report the lock wall down."""
    port = free_port()
    locks = LOCKS.replace("socket://127.0.0.1:47998", "/dev/ttyUSB-unplugged")
    path = tmp_path / "station.toml"
    path.write_text(minimal_config(tmp_path / "station.db", port, locks))
    check = subprocess.run(
        [PYTHON, "-m", "station.cli", "config", "check", str(path)], capture_output=True, text=True, cwd=REPO
    )
    assert check.returncode == 0, check.stderr
    assert "warning: lock_buses.wall.port (line 13): /dev/ttyUSB-unplugged does not exist now" in check.stdout
    daemon = DaemonProcess(["run", "--config", str(path), "--log-format", "text"], log_path=tmp_path / "log")
    try:
        health = daemon.wait_http(f"http://127.0.0.1:{port}/api/health", timeout=30)
        assert health["components"]["database"]["status"] == "up"
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=10) == 0
        assert "/dev/ttyUSB-unplugged does not exist now" in daemon.log()
    finally:
        daemon.stop()


def test_serial_rule_on_a_real_pty(tmp_path: Path) -> None:
    """A pty is a terminal: accepted; its device number is known as a tty one."""
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        assert is_tty_device(os.stat(name).st_rdev) is True
        assert check_serial_port(("lock_buses", "wall", "port"), name) == []
        assert is_tty_device(os.stat("/dev/null").st_rdev) is False
    finally:
        os.close(master)
        os.close(slave)


def test_valid_hosts_and_endpoints_pass(tmp_path: Path) -> None:
    extra = """
[payment]
port = "tcp://[::1]:20007"
[modbus_lines.gw]
tcp = "modbus-gw.local"
[mqtt]
[[mqtt.brokers]]
host = "broker.example.org"
[[mqtt.brokers]]
host = "fd00::1"
"""
    text = minimal_config(tmp_path / "x.db", 8080, extra).replace('host = "127.0.0.1"', 'host = "0.0.0.0"')
    config = parse_config(text)
    assert config.payment is not None and config.payment.port == "tcp://[::1]:20007"
    assert config.mqtt is not None and [b.host for b in config.mqtt.brokers] == ["broker.example.org", "fd00::1"]


def test_an_overlay_that_start_up_would_refuse_is_refused(tmp_path: Path) -> None:
    config = parse_config(minimal_config(tmp_path / "x.db", 0, LOCKS))
    with pytest.raises(ConfigError) as caught:
        apply_overlay(config, {"lock_buses": {"wall": {"port": "/dev/null"}}})
    assert caught.value.problems == [
        "lock_buses.wall.port: /dev/null is not a serial port (a character device, but not a terminal)"
    ]


def test_a_missing_database_folder_that_can_be_made_is_a_warning(tmp_path: Path) -> None:
    """Start-up creates the database's folder (as it always has); the check says so, so a typo shows."""
    path = tmp_path / "station.toml"
    path.write_text(minimal_config(tmp_path / "var" / "station.db"))
    checked = load_checked(path)
    assert checked.warnings == [
        f"database.path (line 6): the folder {tmp_path / 'var'} does not exist yet; the daemon will create it"
    ]
