"""Checks of a valid config against the machine it runs on: files, folders, devices.

The pydantic models check what the file alone decides (types, ranges, hosts, ports, names).
This module checks what depends on the machine, as the user that runs the check: the database
file and its folder, serial device paths, register map files, TLS files. `station config check`
and start-up (`station run`, `station demo`) both call `load_checked`, so the check refuses
exactly what start-up would refuse, with the same lines.

Serial device rule: a device path that does not exist is a warning (a USB adapter may be
unplugged at check time; the daemon keeps retrying and reports the device down); a path that
exists but is not a terminal device (a folder, a regular file, /dev/null or another character
device that is not a tty) is an error, and so is a device this user may not open.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from . import Config, ConfigError, describe, parse_config, read_config_text
from .fridge import FridgeConfig, map_problems

SQLITE_MAGIC = b"SQLite format 3\x00"
_PTY_SLAVE_MAJORS = range(136, 144)  # Unix98 pty slaves (/dev/pts/N), fixed in the kernel


@dataclass(frozen=True)
class Finding:
    """One problem at a key path of the config; a warning lets the daemon start."""

    loc: tuple[str | int, ...]
    message: str
    warning: bool = False


@dataclass(frozen=True)
class CheckedConfig:
    """A config that passed every check, and the warnings to show or log."""

    config: Config
    warnings: list[str]


def load_checked(path: str | Path) -> CheckedConfig:
    """Read, validate and check a config file against this machine; raises ConfigError listing every error."""
    path = Path(path)
    text = read_config_text(path)
    config = parse_config(text, str(path), base_dir=path.resolve().parent)
    findings = check_environment(config)
    errors = [describe(f.loc, f.message, text) for f in findings if not f.warning]
    warnings = [describe(f.loc, f.message, text) for f in findings if f.warning]
    if errors:
        raise ConfigError(str(path), errors, warnings)
    return CheckedConfig(config, warnings)


def check_environment(config: Config) -> list[Finding]:
    """Every environment problem of `config`, errors and warnings, in file order of the sections."""
    findings = check_database(config.database.path)
    for name, bus in config.lock_buses.items():
        findings += check_serial_port(("lock_buses", name, "port"), bus.port)
    for name, line in config.modbus_lines.items():
        if line.port is not None:
            findings += check_serial_port(("modbus_lines", name, "port"), line.port)
    for name, fridge in config.fridges.items():
        if fridge.model.endswith(".json"):
            findings += _check_map_file(("fridges", name), fridge)
    if config.payment is not None and not config.payment.port.startswith("tcp://"):
        findings += check_serial_port(("payment", "port"), config.payment.port)
    if config.printer is not None and not config.printer.port.startswith("usb:"):
        findings += check_serial_port(("printer", "port"), config.printer.port)
    if config.mqtt is not None and config.mqtt.tls is not None:
        tls = config.mqtt.tls
        findings += _check_tls(("mqtt", "tls"), tls.ca_file, tls.cert_file, tls.key_file)
    return findings


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def check_database(path: Path) -> list[Finding]:
    """The SQLite file: a regular SQLite file (or none yet) in an existing folder this user may write to."""
    loc = ("database", "path")
    folder = path.parent
    if not folder.is_dir():
        nearest = folder if folder.exists() else next(p for p in folder.parents if p.exists())  # "/" exists
        if not nearest.is_dir():
            return [Finding(loc, f"{path}: {nearest} is not a folder")]
        if not os.access(nearest, os.W_OK | os.X_OK):
            return [Finding(loc, f"{path}: the folder {folder} does not exist, and user {_user()} may not create it")]
        # Start-up creates it (systemd's StateDirectory= normally has): say so, a typo shows here.
        return [Finding(loc, f"the folder {folder} does not exist yet; the daemon will create it", warning=True)]
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite writes its -wal and -shm files beside the database, so the folder must be writable too.
        return [Finding(loc, f"{path}: user {_user()} may not create files in {folder}")]
    if not path.exists():
        return []  # a new station: the daemon creates the database
    if path.is_dir():
        return [Finding(loc, f"{path} is a folder, not a database file (give a file name such as {path}/station.db)")]
    if not path.is_file():
        return [Finding(loc, f"{path} is not a regular file")]
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        return [Finding(loc, f"{path}: cannot be read: {exc.strerror}")]
    if head and head != SQLITE_MAGIC:  # an empty file is a valid empty database
        return [Finding(loc, f"{path} is not a SQLite database (another file is in the way)")]
    if not os.access(path, os.R_OK | os.W_OK):
        return [Finding(loc, f"{path}: user {_user()} may not write to it")]
    return []


def check_serial_port(loc: tuple[str | int, ...], url: str) -> list[Finding]:
    """A device path must be a terminal device this user may open (see the module's rule); URLs pass."""
    if not url.startswith("/"):
        return []  # socket://, rfc2217://, loop://: checked statically, reached at run time
    try:
        info = os.stat(url)
    except FileNotFoundError:
        return [Finding(loc, f"{url} does not exist now (adapter unplugged?); the daemon retries", warning=True)]
    except OSError as exc:
        return [Finding(loc, f"{url}: {exc.strerror}")]
    if stat.S_ISDIR(info.st_mode):
        return [Finding(loc, f"{url} is a folder, not a serial port")]
    if not stat.S_ISCHR(info.st_mode):
        return [Finding(loc, f"{url} is not a serial port (not a character device)")]
    if is_tty_device(info.st_rdev) is False:
        return [Finding(loc, f"{url} is not a serial port (a character device, but not a terminal)")]
    if not os.access(url, os.R_OK | os.W_OK):
        group = _group_name(info.st_gid)
        return [Finding(loc, f"{url}: user {_user()} may not open it (add the user to group {group})")]
    return []


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def is_tty_device(rdev: int) -> bool | None:
    """Whether a character device number belongs to a tty driver; None when this machine cannot tell.

    Reads /proc/tty/drivers (every tty driver and its major), else sysfs (hidden from the
    daemon by systemd's ProcSubset=pid), else knows only the pty slaves.
    """
    major, minor = os.major(rdev), os.minor(rdev)
    with contextlib.suppress(OSError):
        majors = set()
        for line in Path("/proc/tty/drivers").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[2].isdigit():
                majors.add(int(fields[2]))
        if majors:
            return major in majors
    with contextlib.suppress(OSError):
        return os.path.basename(os.readlink(f"/sys/dev/char/{major}:{minor}/subsystem")) == "tty"
    return True if major in _PTY_SLAVE_MAJORS else None


def _check_map_file(loc: tuple[str | int, ...], fridge: FridgeConfig) -> list[Finding]:
    from drivers.fridge.registermap import MapError, load_map

    try:
        register_map = load_map(fridge.model)
    except MapError as exc:
        return [Finding((*loc, "model"), str(exc))]
    return [Finding((*loc, *sub), message) for sub, message in map_problems(fridge, register_map)]


def _check_tls(loc: tuple[str | int, ...], ca_file: Path, cert_file: Path, key_file: Path) -> list[Finding]:
    """The files exist and load as the MQTT client loads them (PEM, matching key, no passphrase)."""
    findings = []
    for key, path in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if not path.is_file():
            findings.append(Finding((*loc, key), f"{path}: {'not a file' if path.exists() else 'does not exist'}"))
        elif not os.access(path, os.R_OK):
            findings.append(Finding((*loc, key), f"{path}: user {_user()} may not read it"))
    if findings:
        return findings
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    except ssl.SSLError as exc:
        return [Finding((*loc, "ca_file"), f"{ca_file}: not a PEM CA certificate ({exc.reason or exc})")]
    try:
        context.load_cert_chain(str(cert_file), str(key_file), password=lambda: b"")
    except ssl.SSLError as exc:
        message = f"{cert_file} with {key_file}: not a PEM certificate and its unencrypted key ({exc.reason or exc})"
        return [Finding((*loc, "cert_file"), message)]
    return []
