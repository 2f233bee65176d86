"""`station users` and what a stolen database gives away: no badge UID, no PIN guessable without the key file."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import subprocess
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import select

from station.db.models import Volunteer
from station.db.staff_models import StaffThrottle
from station.staff.pins import PinRejected, check_new_pin
from station.staff.secret import SecretError, StationSecret
from tests.conftest import PYTHON, REPO
from tests.volunteers.conftest import cli, make_site

UID, PIN = "04A1B2C3D4E5F6", "570931"


def _station_cli(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "station.cli", *args], input=stdin, capture_output=True, text=True,
                          cwd=REPO, timeout=60)  # fmt: skip


def _row(db_path: Path, account: int) -> Volunteer:
    from station.db.engine import Database

    db = Database(db_path)
    db.open_sync()
    try:
        return db.run_sync(lambda s: s.scalar(select(Volunteer).where(Volunteer.id == account)), write=False)
    finally:
        db.close_sync()


async def test_the_first_operator_from_the_command_line_and_what_the_database_holds(tmp_path: Path) -> None:
    async with make_site(tmp_path, walls=False, nfc=False, operator=False) as site:
        config = str(site.config_path)
        key_file = tmp_path / "station.db.key"
        assert not key_file.exists()  # made at first need, not before
        done = _station_cli(["users", "add", "--config", config, "--role", "operator", "--name", "Olga",
                             "--badge-uid", UID, "--pin-stdin"], PIN + "\n")
        assert done.returncode == 0, done.stderr
        assert "Kennnummer 1" in done.stdout
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32

        listed = json.loads(_station_cli(["users", "list", "--config", config, "--json"]).stdout)
        assert [(a["id"], a["name"], a["role"], a["has_pin"], a["has_badge"]) for a in listed["accounts"]] == [
            (1, "Olga", "operator", True, True)]

        # Refusals: a weak PIN, an operator without a badge, a PIN only on the command line is impossible.
        weak = _station_cli(["users", "add", "--config", config, "--name", "Eve", "--pin-stdin"], "123456\n")
        assert weak.returncode == 1 and "Zahlenfolge" in weak.stderr
        no_badge = _station_cli(["users", "add", "--config", config, "--role", "operator", "--name", "Eve",
                                 "--pin-stdin"], PIN + "\n")
        assert no_badge.returncode == 2 and "badge" in no_badge.stderr
        with pytest.raises(SystemExit):
            cli(["users", "add", "--config", config, "--name", "Eve", "--pin", PIN])

        # The database alone: the UID is nowhere, the PIN hash is of the key-peppered PIN.
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("station.db*") if p != key_file)
        assert UID.encode() not in stored and UID.lower().encode() not in stored and bytes.fromhex(UID) not in stored
        row = _row(site.db_path, 1)
        assert row.badge_hash != hashlib.sha256(bytes.fromhex(UID)).hexdigest()
        assert row.badge_hash == StationSecret(key_file).badge_digest(UID)
        guess_without_key = hmac.new(bytes(32), b"badge\x00" + bytes.fromhex(UID), hashlib.sha256).hexdigest()
        assert row.badge_hash != guess_without_key
        assert row.pin_hash is not None and row.pin_hash.startswith("$argon2id$")
        with pytest.raises(VerificationError):
            PasswordHasher().verify(row.pin_hash, PIN)  # the bare PIN does not match: offline guessing needs the key
        assert PasswordHasher().verify(row.pin_hash, StationSecret(key_file).pin_pepper(PIN))


async def test_reset_pin_badge_disable_and_unlock_from_the_command_line(tmp_path: Path) -> None:
    async with make_site(tmp_path, walls=False, nfc=False) as site:
        config = str(site.config_path)
        assert cli(["users", "add", "--config", config, "--name", "Vera", "--pin-stdin"], "615243\n") == 0
        async with site.run() as kiosk:
            for _ in range(5):
                assert (await kiosk.login_pin(2, "000001")).status_code == 401
            assert (await kiosk.login_pin(2, "615243")).status_code == 429
            assert cli(["users", "reset-pin", "--config", config, "--id", "2", "--pin-stdin"], "728391\n") == 0
            assert cli(["users", "unlock", "--config", config, "--scope", "keypad:kiosk"]) == 0
            assert (await kiosk.login_pin(2, "615243")).status_code == 401  # the old PIN is gone
            assert (await kiosk.login_pin(2, "728391")).status_code == 200
        assert cli(["users", "badge", "--config", config, "--id", "2", "--badge-uid", "04:11:22:33:44:55:66"]) == 0
        assert _row(site.db_path, 2).badge_hash is not None
        assert cli(["users", "badge", "--config", config, "--id", "2", "--remove"]) == 0
        assert _row(site.db_path, 2).badge_hash is None
        assert cli(["users", "disable", "--config", config, "--id", "1"]) == 1  # the last operator stays
        assert cli(["users", "disable", "--config", config, "--id", "2", "--reason", "moved"]) == 0
        assert _row(site.db_path, 2).active is False
        assert cli(["users", "reset-pin", "--config", config, "--id", "9", "--pin-stdin"], "728391\n") == 1
        locks = kiosk.read(lambda s: {r.scope: r.consecutive for r in s.scalars(select(StaffThrottle))})
        assert locks == {"keypad:kiosk": 0, "pin:2": 0}


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "station.key"
    secret = StationSecret(path)
    first = secret.badge_digest(UID)
    assert StationSecret(path).badge_digest(UID) == first  # the same key again, read from the file
    path.chmod(0o640)
    with pytest.raises(SecretError, match="chmod 600"):
        StationSecret(path).key()


@pytest.mark.parametrize("pin", ["12345", "1234567890123", "12a456", "111111", "123456", "987654", "890123"])
def test_pins_that_are_refused(pin: str) -> None:
    with pytest.raises(PinRejected):
        check_new_pin(pin)


@pytest.mark.parametrize("pin", ["570931", "112233", "0000001", "135790"])
def test_pins_that_are_accepted(pin: str) -> None:
    check_new_pin(pin)
