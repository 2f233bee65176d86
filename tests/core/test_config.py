"""Configuration validation: good configs load, every kind of bad input gives a clear error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from station.config import ConfigError, load_config, parse_config
from tests.conftest import PYTHON, REPO, minimal_config

LOCKS = """
[lock_buses.wall-a]
port = "socket://127.0.0.1:7001"
protocol = "cu16"
[[lock_buses.wall-a.boards]]
address = 0

[[compartments]]
id = 1
bus = "wall-a"
board = 0
lock = 1
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    return info.value.problems


@pytest.mark.parametrize("name", ["station.sim.toml", "station.hw.toml"])
def test_shipped_examples_are_valid(name: str) -> None:
    config = load_config(REPO / "examples" / name)
    assert config.station.id
    assert config.database.path.is_absolute()


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    config = parse_config(minimal_config(tmp_path / "x.db", 8080) + LOCKS)
    assert config.http.port == 8080
    bus = config.lock_buses["wall-a"]
    assert (bus.gap_ms, bus.timeout_ms, bus.poll_hz, bus.baudrate) == (10.0, 500.0, 4.0, 19200)
    assert config.compartments[0].lock == 1
    assert config.simulation is None


def test_unknown_key_is_an_error_with_path_and_line(tmp_path: Path) -> None:
    text = minimal_config(tmp_path / "x.db").replace('id = "test-01"', 'id = "test-01"\ncolour = "blue"')
    (problem,) = problems(text)
    assert problem.startswith("station.colour (line 4): unknown key")


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    (problem,) = problems(minimal_config(tmp_path / "x.db") + "\n[printerr]\nport = 1\n")
    assert problem.startswith("printerr") and "unknown key" in problem


def test_wrong_type_and_out_of_range(tmp_path: Path) -> None:
    text = minimal_config(tmp_path / "x.db", http_port=70000) + LOCKS.replace("lock = 1", 'lock = "one"')
    found = problems(text)
    assert any(p.startswith("http.port (line 10)") and "less than 65536" in p for p in found), found
    assert any(p.startswith("compartments[0].lock") and "integer" in p for p in found), found


def test_serial_port_must_be_a_pyserial_url(tmp_path: Path) -> None:
    (problem,) = problems(minimal_config(tmp_path / "x.db") + LOCKS.replace("socket://127.0.0.1:7001", "COM3"))
    assert problem.startswith("lock_buses.wall-a.port (line 14)")
    assert "/dev/ttyUSB0" in problem


@pytest.mark.parametrize("port", ["/dev/ttyUSB0", "socket://10.0.0.5:4001", "loop://", "rfc2217://h:1", "/dev/pts/3"])
def test_serial_port_accepts_urls(tmp_path: Path, port: str) -> None:
    config = parse_config(minimal_config(tmp_path / "x.db") + LOCKS.replace("socket://127.0.0.1:7001", port))
    assert config.lock_buses["wall-a"].port == port


def test_cross_references_are_checked(tmp_path: Path) -> None:
    text = minimal_config(tmp_path / "x.db") + LOCKS + """
[[compartments]]
id = 1
bus = "wall-b"
board = 0
lock = 2

[[compartments]]
id = 3
bus = "wall-a"
board = 7
lock = 1

[[compartments]]
id = 4
bus = "wall-a"
board = 0
lock = 17
zone = "nowhere"
"""
    assert problems(text) == [  # one line per problem, each at its own key and line
        "compartments[1].id (line 26): compartment 1 is defined twice",
        "compartments[1].bus (line 27): no lock bus named 'wall-b'",
        "compartments[2].board (line 34): bus 'wall-a' has no board 7",
        "compartments[3].lock (line 41): a cu16 board has locks 1-16",
        "compartments[3].zone (line 42): no zone named 'nowhere'",
    ]


def test_missing_required_section(tmp_path: Path) -> None:
    found = problems('[station]\nid = "x"\n')
    assert found == ["database: Field required"]


def test_invalid_toml_is_reported_with_its_line() -> None:
    (problem,) = problems('[station]\nid = "x"\nname = "unclosed\n')
    assert problem.startswith("not valid TOML (line 3, column ")


def test_relative_file_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    """Database, TLS files and fridge map files: relative to the file, not to the working directory."""
    (tmp_path / "etc").mkdir()
    cfg = tmp_path / "etc" / "station.toml"
    extra = """
[modbus_lines.cold]
port = "socket://127.0.0.1:4001"
[zones.chilled]
temperature_class = "chilled"
[fridges.chiller]
line = "cold"
unit = 1
zone = "chilled"
model = "maps/site.json"
[mqtt]
[[mqtt.brokers]]
host = "broker.example.org"
[mqtt.tls]
ca_file = "tls/ca.pem"
cert_file = "/abs/station.pem"
key_file = "tls/station.key"
"""
    cfg.write_text(minimal_config(Path("x.db"), 0, extra))
    config = load_config(cfg)
    assert config.database.path == tmp_path / "etc" / "x.db"
    assert config.fridges["chiller"].model == str(tmp_path / "etc" / "maps" / "site.json")
    assert config.mqtt is not None and config.mqtt.tls is not None
    tls = config.mqtt.tls
    assert (tls.ca_file, tls.cert_file, tls.key_file) == (
        tmp_path / "etc" / "tls" / "ca.pem", Path("/abs/station.pem"), tmp_path / "etc" / "tls" / "station.key"
    )  # fmt: skip


def test_bad_station_id_is_rejected(tmp_path: Path) -> None:
    text = minimal_config(tmp_path / "x.db").replace('"test-01"', '"a/b+#"')
    (problem,) = problems(text)
    assert problem.startswith("station.id (line 3)") and "not a valid name" in problem


def test_relative_database_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    cfg = tmp_path / "etc" / "station.toml"
    cfg.write_text(minimal_config(Path("x.db")).replace('"x.db"', '"../var/x.db"'))
    assert load_config(cfg).database.path == tmp_path / "var" / "x.db"


def test_config_check_command(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(minimal_config(tmp_path / "x.db"))
    bad = tmp_path / "bad.toml"
    bad.write_text(minimal_config(tmp_path / "x.db", http_port=-1) + "\nbogus = true\n")
    ok = subprocess.run([PYTHON, "-m", "station.cli", "config", "check", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "ok" in ok.stdout
    res = subprocess.run([PYTHON, "-m", "station.cli", "config", "check", str(bad)], capture_output=True, text=True)
    assert res.returncode == 2
    assert "http.port (line 10): Input should be greater than or equal to 0" in res.stderr
    assert "http.bogus (line 13): unknown key" in res.stderr


def test_daemon_refuses_to_start_on_invalid_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(minimal_config(tmp_path / "x.db") + "\n[http2]\n")
    res = subprocess.run(
        [PYTHON, "-m", "station.cli", "run", "--config", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 2
    assert "http2" in res.stderr and "unknown key" in res.stderr
    assert not (tmp_path / "x.db").exists()
