"""The station key: 32 random bytes in a file beside the database (mode 0600), never in it.

Badge UIDs and enrolment codes are stored as HMAC-SHA256 under this key, and PINs are peppered
with it before Argon2id. A copy of the database alone therefore reveals no badge UID, and a
6-digit PIN cannot be guessed offline from it: every guess needs the key. Losing the key makes
every PIN, badge and enrolment code invalid (operators then set them again with `station users`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

KEY_BYTES = 32


class SecretError(Exception):
    """The key file cannot be used (unreadable, wrong size, readable by others)."""


class StationSecret:
    """Loads the key on first use and creates it (0600) if there is none yet."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._key: bytes | None = None

    def exists(self) -> bool:
        return self._key is not None or self.path.exists()

    def key(self) -> bytes:
        if self._key is None:
            self._key = self._load() if self.path.exists() else self._create()
        return self._key

    def _load(self) -> bytes:
        try:
            mode = self.path.stat().st_mode
            data = self.path.read_bytes()
        except OSError as exc:
            raise SecretError(f"{self.path}: cannot read the station key: {exc.strerror or exc}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(f"{self.path}: the station key may be read by others; chmod 600 it")
        if len(data) != KEY_BYTES:
            raise SecretError(f"{self.path}: a station key is {KEY_BYTES} bytes, this file has {len(data)}")
        return data

    def _create(self) -> bytes:
        key = secrets.token_bytes(KEY_BYTES)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made meanwhile by another process (the CLI next to the daemon)
            return self._load()
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        _same_owner_as_folder(self.path)
        return key

    # -- what the key protects ---------------------------------------------------------------------
    def _mac(self, purpose: bytes, value: bytes) -> str:
        return hmac.new(self.key(), purpose + b"\x00" + value, hashlib.sha256).hexdigest()

    def derive(self, purpose: bytes) -> bytes:
        """32 bytes derived from the key for one purpose (the app payment signing key's seed)."""
        return bytes.fromhex(self._mac(b"derive", purpose))

    def customer_card_digest(self, uid_hex: str) -> str:
        """The stored form of an age-verified customer card's UID (keyed: the UID itself is never stored)."""
        return self._mac(b"customer-card", bytes.fromhex(normalise_uid(uid_hex)))

    def badge_digest(self, uid_hex: str) -> str:
        """The stored form of a badge UID (hex, any case; separators ignored)."""
        return self._mac(b"badge", bytes.fromhex(normalise_uid(uid_hex)))

    def enrolment_digest(self, code: str) -> str:
        return self._mac(b"enrolment", code.encode())

    def pickup_digest(self, kind: str, value: str) -> str:
        """The stored form of a pick-up credential: `code` (typed digits), `qr` (token), `card` (UID hex)."""
        return self._mac(b"pickup-" + kind.encode(), value.encode())

    def pin_pepper(self, pin: str) -> str:
        """What Argon2id hashes instead of the bare PIN."""
        return self._mac(b"pin", pin.encode())


def normalise_uid(uid_hex: str) -> str:
    """"04:a1:b2 …" → "04A1B2…"; raises ValueError when it is not 4-10 bytes of hex."""
    cleaned = "".join(ch for ch in uid_hex if ch not in ": -").upper()
    if not 8 <= len(cleaned) <= 20 or len(cleaned) % 2 or any(c not in "0123456789ABCDEF" for c in cleaned):
        raise ValueError("a badge UID is 4 to 10 bytes in hex")
    return cleaned


def _same_owner_as_folder(path: Path) -> None:
    """Made by root (an operator running `station users` with sudo): give it to the service user."""
    if os.geteuid() != 0:
        return
    folder = path.parent.stat()
    if folder.st_uid != 0:
        os.chown(path, folder.st_uid, folder.st_gid)
