"""`station hw nfc read` against the simulator: as a real subprocess (--json, an unreachable reader) and
in-process for the other outcomes; the simulator in this process or as `python -m simulators.nfc`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from simulators.nfc import NfcTagSimulator
from station.cli import main
from tests.conftest import REPO

from .conftest import BADGE_UID


def station(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "station.cli", "hw", "nfc", "read", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def station_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["hw", "nfc", "read", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sim_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m simulators.nfc` with a card on the reader; yields the process and its device path."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "simulators.nfc", "--uid", "04C0FFEE123456", "--present"),
            *("--uri", "https://example.org/o/42", "--text", "Bestellung 42", "--lang", "de"),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[:1] == ["udp"], f"simulator did not start: {first}"
        yield proc, first[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_read_json(sim: NfcTagSimulator) -> None:
    sim.present()
    result = station("--device", sim.device_path, "--targets", "106A", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    card = json.loads(result.stdout)
    assert {k: card[k] for k in ("uid", "technology", "tag_type", "product")} == {
        "uid": BADGE_UID,
        "technology": "106A",
        "tag_type": "Type2Tag",
        "product": "NXP NTAG213",
    }
    uri_payload = b"\x04dorfladen.example/badge/17".hex()  # 04 = "https://"
    text_payload = b"\x02deHelferin Anna".hex()  # status byte: UTF-8, language length 2
    assert card["ndef"] == [
        {"type": "urn:nfc:wkt:U", "payload": uri_payload, "uri": "https://dorfladen.example/badge/17"},
        {"type": "urn:nfc:wkt:T", "payload": text_payload, "text": "Helferin Anna", "language": "de"},
    ]


def test_read_text_from_the_simulator_process(sim_process: tuple[subprocess.Popen[str], str], capsys) -> None:
    _proc, device = sim_process
    code, out, err = station_in_process(capsys, "--device", device, "--targets", "106A")
    assert (code, err) == (0, "")
    assert out == (
        "UID 04C0FFEE123456  (NXP NTAG213, Type2Tag, 106A)\n"
        "  NDEF uri   https://example.org/o/42\n"
        "  NDEF text  [de] Bestellung 42\n"
    )


def test_simulator_process_takes_commands(sim_process: tuple[subprocess.Popen[str], str], capsys) -> None:
    proc, device = sim_process
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("present 04AABBCCDDEEFF\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "present 04AABBCCDDEEFF\n"
    code, out, _err = station_in_process(capsys, "--device", device, "--targets", "106A", "--json")
    assert code == 0 and json.loads(out)["uid"] == "04AABBCCDDEEFF" and json.loads(out)["ndef"] == []
    proc.stdin.write("remove\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "removed\n"
    code, out, err = station_in_process(capsys, "--device", device, "--targets", "106A", "--timeout", "1.5")
    assert (code, out, err) == (1, "", f"error: no card read within 1.5 s on {device}\n")


def test_reader_that_cannot_be_opened_in_a_real_process() -> None:
    result = station("--device", "tty:USB97:pn532", "--timeout", "5")
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        "error: cannot open NFC reader tty:USB97:pn532: no such reader (unplugged, wrong path, or no driver for it)\n"
    )


def test_simulator_not_running(capsys) -> None:
    gone = NfcTagSimulator()
    port = gone.start("127.0.0.1", 0)
    gone.close()
    code, out, err = station_in_process(capsys, "--device", f"udp:127.0.0.1:{port}", "--timeout", "5")
    assert (code, out) == (3, "")
    assert err == f"error: nothing answers on udp:127.0.0.1:{port} (connection refused): is the simulator running?\n"


def test_bad_device_path_is_a_usage_error(capsys) -> None:
    code, _out, err = station_in_process(capsys, "--device", "/dev/ttyUSB0")
    assert code == 2
    assert err.startswith("error: '/dev/ttyUSB0' is not an nfcpy device path: use usb[:vid:pid], tty:")
