"""PINs: the rules a new PIN must meet, and Argon2id hashing of the peppered PIN (argon2-cffi).

The parameters follow the OWASP password storage recommendation for Argon2id (19 MiB, 2 passes,
1 lane): about 0.05-0.3 s on the station's PC, so a log-in stays quick while the throttle keeps
online guessing to at most 20 PINs a day per keypad and per account. Hashing runs on its own worker
thread (`pin-hash`), one at a time, never on the event loop or the database thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .secret import StationSecret

MIN_DIGITS, MAX_DIGITS = 6, 12
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_PIN = re.compile(rf"^\d{{{MIN_DIGITS},{MAX_DIGITS}}}$")


class PinRejected(ValueError):
    """A new PIN that does not meet the rules; the message says which (German, for the screen)."""


def check_new_pin(pin: str) -> None:
    """At least 6 digits; not one digit repeated, not a straight run up or down (123456, 987654)."""
    if not _PIN.match(pin):
        raise PinRejected(f"Die PIN besteht aus {MIN_DIGITS} bis {MAX_DIGITS} Ziffern")
    if len(set(pin)) == 1:
        raise PinRejected("Die PIN darf nicht nur aus einer Ziffer bestehen")
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        raise PinRejected("Die PIN darf keine einfache Zahlenfolge sein")


def hash_pin(secret: StationSecret, pin: str) -> str:
    """The stored form: Argon2id (salted) of the PIN peppered with the station key."""
    return HASHER.hash(secret.pin_pepper(pin))


def verify_pin(secret: StationSecret, stored: str | None, pin: str) -> bool:
    """True when `pin` matches; an account without a PIN costs a hash too (no timing difference)."""
    try:
        return HASHER.verify(stored or _DUMMY.hash, secret.pin_pepper(pin)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


class _Dummy:
    """A hash to verify against when there is no account, so a miss takes as long as a wrong PIN."""

    _value: str | None = None

    @property
    def hash(self) -> str:
        if self._value is None:
            self._value = HASHER.hash("no account")
        return self._value


_DUMMY = _Dummy()


class PinHasher:
    """The async face of hashing and verifying: one named worker thread, one hash at a time."""

    def __init__(self, secret: StationSecret) -> None:
        self.secret = secret
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pin-hash")
        return self._executor

    async def hash(self, pin: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool(), hash_pin, self.secret, pin)

    async def verify(self, stored: str | None, pin: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._pool(), verify_pin, self.secret, stored, pin)

    async def badge(self, uid_hex: str) -> str:
        """The badge digest (reads the key file at first use, so off the loop too)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool(), self.secret.badge_digest, uid_hex)

    async def enrolment(self, code: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool(), self.secret.enrolment_digest, code)

    def close(self) -> None:
        """Nothing runs on it at a stop that matters (a log-in then fails like any request at shutdown)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
