"""Broken configs, each with the TOML path (or file-level problem) its report must name.

Each case is a valid minimal station plus one fault; `write_case` puts it in a folder with
whatever the fault needs on disk (a folder where the database should be, a broken map file …).
Used by tests/core/test_config_broken.py; `python -m tests.core.broken_configs` prints the
Markdown table of what `station config check` says for each.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BASE = """\
[station]
id = "test-01"

[database]
path = "{dir}/station.db"

[http]
host = "127.0.0.1"
port = 0
"""

FRIDGE = """
[modbus_lines.cold]
port = "socket://127.0.0.1:47999"

[zones.chilled]
temperature_class = "chilled"

[fridges.chiller]
line = "cold"
unit = 1
zone = "chilled"
"""

LOCKS = """
[lock_buses.wall]
port = "socket://127.0.0.1:47998"
protocol = "cu16"
[[lock_buses.wall.boards]]
address = 0
"""

MQTT = """
[mqtt]
[[mqtt.brokers]]
host = "127.0.0.1"
port = 1883
"""

TLS = """
[mqtt.tls]
ca_file = "{dir}/ca.pem"
cert_file = "{dir}/station.pem"
key_file = "{dir}/station.key"
"""


@dataclass(frozen=True)
class Case:
    """One broken config: the fault as text edits of a valid one, and what the report must say."""

    name: str
    fault: str  # in words, for the table
    where: str  # the TOML path the problem line starts with (or the file-level problem)
    says: str  # a fragment of the message
    append: str = ""  # TOML appended to BASE
    replace: tuple[tuple[str, str], ...] = ()  # edits of BASE + append
    prepare: Callable[[Path], None] | None = None  # makes what the fault needs in the folder
    raw: bytes | None = None  # the whole file instead (not UTF-8)
    config_path: str | None = None  # "folder" or "missing": the config file itself cannot be read
    line: bool = True  # the problem names the line
    tags: frozenset[str] = field(default_factory=frozenset)


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def _pem_garbage(folder: Path) -> None:
    for name in ("ca.pem", "station.pem", "station.key"):
        (folder / name).write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")


def _db(path: str) -> tuple[tuple[str, str], ...]:
    return (('path = "{dir}/station.db"', f'path = "{path}"'),)


def _http_host(host: str) -> tuple[tuple[str, str], ...]:
    return (('host = "127.0.0.1"\nport = 0', f'host = "{host}"\nport = 0'),)


def _payment(port: str) -> str:
    return f'\n[payment]\nport = "{port}"\n'


def _lock_port(port: str) -> tuple[tuple[str, str], ...]:
    return (('port = "socket://127.0.0.1:47998"', f'port = "{port}"'),)


def _modbus(key: str, value: str) -> tuple[tuple[str, str], ...]:
    return (('port = "socket://127.0.0.1:47999"', f'{key} = "{value}"'),)


def _broker(host: str = "127.0.0.1", port: str = "1883") -> tuple[tuple[str, str], ...]:
    return (('host = "127.0.0.1"\nport = 1883', f'host = "{host}"\nport = {port}'),)


CASES: list[Case] = [
    # --- the database ---------------------------------------------------------------------
    Case("db-is-folder", "database path is a folder", "database.path", "is a folder, not a database file",
         replace=_db("{dir}/var"), prepare=_mkdir("var"), tags=frozenset({"subprocess", "demo"})),
    Case("db-parent-missing", "database under a folder that does not exist and cannot be made", "database.path",
         "the folder /proc/sys/station-var does not exist, and user", replace=_db("/proc/sys/station-var/station.db"),
         tags=frozenset({"read-only"})),
    Case("db-parent-is-file", "database under a path that is a file", "database.path", "{dir}/notes is not a folder",
         replace=_db("{dir}/notes/var/station.db"), prepare=_write("notes", "a file")),
    Case("db-parent-read-only", "database folder not writable", "database.path", "may not create files in /proc/sys",
         replace=_db("/proc/sys/station.db"), tags=frozenset({"read-only"})),
    Case("db-not-sqlite", "database path is a text file", "database.path", "is not a SQLite database",
         replace=_db("{dir}/notes.txt"), prepare=_write("notes.txt", "shopping list\n"),
         tags=frozenset({"subprocess"})),
    Case("db-is-device", "database path is /dev/null", "database.path", "/dev/null is not a regular file",
         replace=_db("/dev/null")),
    # --- fridges and their register maps --------------------------------------------------
    Case("fridge-unknown-model", "fridge model without a map", "fridges.chiller.model",
         "unknown fridge model 'dixell-xx'", append=FRIDGE + 'model = "dixell-xx"\n', tags=frozenset({"subprocess"})),
    Case("fridge-map-file-missing", "fridge map .json that does not exist", "fridges.chiller.model", "no register map",
         append=FRIDGE + 'model = "{dir}/site-map.json"\n'),
    Case("fridge-map-file-broken", "fridge map .json that is not JSON", "fridges.chiller.model", "not valid JSON",
         append=FRIDGE + 'model = "{dir}/site-map.json"\n', prepare=_write("site-map.json", "{ nope")),
    Case("fridge-unknown-probe", "fridge probe the map lacks", "fridges.chiller.probes", "['probe9'] not in map",
         append=FRIDGE + 'probes = ["probe9"]\n'),
    Case("fridge-product-probe", "product probe not among the probes", "fridges.chiller.product_probe",
         "'probe2' is not one of the probes", append=FRIDGE + 'probes = ["probe1"]\nproduct_probe = "probe2"\n'),
    # --- TCP ports ---------------------------------------------------------------------------
    Case("payment-port-99999", "payment tcp://host:99999", "payment.port", "TCP port 99999 is out of range",
         append=_payment("tcp://127.0.0.1:99999"), tags=frozenset({"subprocess"})),
    Case("payment-port-0", "payment tcp://host:0", "payment.port", "TCP port 0 is out of range",
         append=_payment("tcp://127.0.0.1:0")),
    Case("payment-port-missing", "payment tcp://host without a port", "payment.port", "the port is missing",
         append=_payment("tcp://127.0.0.1")),
    Case("mqtt-port-99999", "MQTT broker port 99999", "mqtt.brokers[0].port", "less than 65536",
         append=MQTT, replace=_broker(port="99999")),
    Case("http-port-70000", "HTTP port 70000", "http.port", "less than 65536",
         replace=(("port = 0", "port = 70000"),)),
    Case("modbus-tcp-port", "Modbus TCP host:99999", "modbus_lines.cold.tcp", "TCP port 99999 is out of range",
         append=FRIDGE, replace=_modbus("tcp", "127.0.0.1:99999")),
    Case("lock-socket-port", "lock bus socket://host:99999", "lock_buses.wall.port", "TCP port 99999 is out of range",
         append=LOCKS, replace=_lock_port("socket://127.0.0.1:99999")),
    Case("modbus-socket-no-port", "Modbus socket://host without a port", "modbus_lines.cold.port",
         "the port is missing", append=FRIDGE, replace=_modbus("port", "socket://127.0.0.1")),
    # --- hosts -------------------------------------------------------------------------------
    Case("http-host-256", "HTTP host 256.1.1.1", "http.host", "'256.1.1.1' is not a valid IPv4 address",
         replace=_http_host("256.1.1.1"), tags=frozenset({"subprocess"})),
    Case("http-host-empty", "HTTP host empty", "http.host", "the host is empty", replace=_http_host("")),
    Case("mqtt-host-256", "MQTT broker host 256.1.1.1", "mqtt.brokers[0].host", "not a valid IPv4 address",
         append=MQTT, replace=_broker(host="256.1.1.1")),
    Case("mqtt-host-empty", "MQTT broker host empty", "mqtt.brokers[0].host", "the host is empty",
         append=MQTT, replace=_broker(host="")),
    Case("payment-host-256", "payment tcp://256.1.1.1:20007", "payment.port", "not a valid IPv4 address",
         append=_payment("tcp://256.1.1.1:20007")),
    Case("payment-host-empty", "payment tcp://:20007", "payment.port", "the host is empty",
         append=_payment("tcp://:20007")),
    Case("modbus-tcp-host", "Modbus TCP 256.1.1.1:502", "modbus_lines.cold.tcp", "not a valid IPv4 address",
         append=FRIDGE, replace=_modbus("tcp", "256.1.1.1:502")),
    Case("lock-socket-host", "lock bus socket://bad_host!:4001", "lock_buses.wall.port",
         "not a valid host name", append=LOCKS, replace=_lock_port("socket://bad_host!:4001")),
    # --- serial ports ------------------------------------------------------------------------
    Case("lock-port-folder", "lock bus port is a folder", "lock_buses.wall.port", "is a folder, not a serial port",
         append=LOCKS, replace=_lock_port("{dir}/ports"), prepare=_mkdir("ports"),
         tags=frozenset({"subprocess", "demo"})),
    Case("lock-port-dev-null", "lock bus port /dev/null", "lock_buses.wall.port",
         "/dev/null is not a serial port (a character device, but not a terminal)", append=LOCKS,
         replace=_lock_port("/dev/null"), tags=frozenset({"subprocess"})),
    Case("lock-port-file", "lock bus port is a regular file", "lock_buses.wall.port", "not a character device",
         append=LOCKS, replace=_lock_port("{dir}/port.txt"), prepare=_write("port.txt", "")),
    Case("modbus-port-dev-zero", "Modbus port /dev/zero", "modbus_lines.cold.port", "not a terminal",
         append=FRIDGE, replace=_modbus("port", "/dev/zero")),
    Case("payment-port-dev-null", "payment port /dev/null (ZVT over RS232)", "payment.port", "not a terminal",
         append=_payment("/dev/null")),
    Case("payment-port-folder", "payment port is a folder", "payment.port", "is a folder, not a serial port",
         append=_payment("/tmp")),
    # --- the file itself ---------------------------------------------------------------------
    Case("not-utf8", "file not UTF-8 (Latin-1 umlaut)", "not UTF-8 text (line 3", "byte 0xfc",
         raw=BASE.replace('id = "test-01"', 'id = "test-01"\nname = "M\xfchle"').encode("latin-1"), line=False,
         tags=frozenset({"subprocess"})),
    Case("toml-syntax", "TOML syntax error", "not valid TOML (line 11", "Expected ']'", append="\n[lock_buses.wall\n",
         line=False, tags=frozenset({"subprocess"})),
    Case("config-is-folder", "config path is a folder", "cannot read the file", "Is a directory",
         config_path="folder", line=False, tags=frozenset({"subprocess"})),
    Case("config-missing", "config file does not exist", "cannot read the file", "No such file or directory",
         config_path="missing", line=False),
    # --- other values start-up needs -------------------------------------------------------
    Case("timezone", "unknown time zone", "station.timezone", "unknown time zone 'Europe/Berln'",
         replace=(('id = "test-01"', 'id = "test-01"\ntimezone = "Europe/Berln"'),)),
    Case("tls-missing", "MQTT TLS files that do not exist", "mqtt.tls.ca_file", "does not exist", append=MQTT + TLS),
    Case("tls-garbage", "MQTT TLS files that are not PEM", "mqtt.tls.ca_file", "not a PEM CA certificate",
         append=MQTT + TLS, prepare=_pem_garbage),
]  # fmt: skip


def write_case(case: Case, folder: Path, extra: str = "") -> Path:
    """The case's config file in `folder` (with what its fault needs); `extra` is TOML appended."""
    if case.prepare is not None:
        case.prepare(folder)
    path = folder / "station.toml"
    if case.config_path == "folder":
        path.mkdir()
        return path
    if case.config_path == "missing":
        return folder / "missing.toml"
    if case.raw is not None:
        path.write_bytes(case.raw + extra.encode())
        return path
    text = BASE + case.append
    for old, new in case.replace:
        assert old in text, (case.name, old)
        text = text.replace(old, new)
    path.write_text(text.replace("{dir}", str(folder)) + extra)
    return path


def expected(case: Case, folder: Path) -> tuple[str, str]:
    """(start, fragment) of the problem line the case must produce."""
    start = f"{case.where} (line " if case.line else case.where
    return start, case.says.replace("{dir}", str(folder))


def proc_sys_is_read_only() -> bool:
    return not os.access("/proc/sys", os.W_OK)


if __name__ == "__main__":  # the table for notes and issues
    import tempfile

    from station.config import ConfigError
    from station.config.environment import load_checked

    print("| broken config | `station config check` says (exit 2) |\n|---|---|")
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                load_checked(write_case(case, Path(tmp)))
                said = "ok (not caught!)"
            except ConfigError as exc:
                said = "<br>".join(exc.problems).replace(tmp, "DIR")
        print(f"| {case.fault} | `{said.replace('|', '/')}` |")
