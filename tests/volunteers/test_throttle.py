"""PIN guessing at full speed for 24 simulated hours: how many guesses reach the check, and what survives a restart.

The attacker never waits longer than the station makes them: after each refusal they try again at
once (three times), then wait exactly the Retry-After; once locked they keep trying every ten
minutes. Counted: PINs that reached the Argon2id check (the hasher is wrapped and counted).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.volunteers.conftest import OPERATOR_PIN, OPERATOR_UID, Kiosk, cli, make_site

SIMULATED = "\n[simulation]\nenabled = true\n"
VICTIM_PIN = "739104"
BADGE = "04BADC0FFEE0AA"
DAY = timedelta(hours=24)


def _count_checks(kiosk: Kiosk) -> list[int]:
    """Wrap the PIN check of the running station; returns a list whose length is the number of checks."""
    hasher = kiosk.station.component("staff").hasher
    calls: list[int] = []
    real = hasher.verify

    async def counted(stored: str | None, pin: str) -> bool:
        calls.append(1)
        return bool(await real(stored, pin))

    hasher.verify = counted
    return calls


async def _attack(kiosk: Kiosk, target: Any, keypads: list[str], seed: int) -> dict[str, Any]:
    """Guess for 24 simulated hours at full speed; `target(i)` names the account of guess i."""
    rng = random.Random(seed)
    start = kiosk.clock.now()
    outcome: Counter[int] = Counter()
    messages: list[str] = []
    i = 0
    while kiosk.clock.now() - start < DAY:
        pin = f"{rng.randrange(10**6):06d}"
        if pin == VICTIM_PIN:
            continue
        reply = await kiosk.login_pin(target(i), pin, keypads[i % len(keypads)])
        i += 1
        outcome[reply.status_code] += 1
        if reply.status_code == 429:
            messages.append(reply.json()["message"])
            if outcome[429] % 4:  # refused: try again at once (three times), then wait as told
                continue
            retry = reply.headers.get("Retry-After")
            kiosk.clock.advance(int(retry) if retry else 600)
        else:
            assert reply.status_code == 401, reply.text
    return {"outcome": outcome, "messages": messages, "requests": i}


async def test_pin_brute_force_for_24_hours_checks_at_most_20_guesses_and_the_lock_survives_a_restart(
    tmp_path: Path,
) -> None:
    async with make_site(tmp_path, walls=False, nfc=False, extra=SIMULATED) as site:
        assert cli(["users", "add", "--config", str(site.config_path), "--name", "Vera", "--pin-stdin"],
                   VICTIM_PIN + "\n") == 0  # account 2
        async with site.run() as kiosk:
            checks = _count_checks(kiosk)
            started = time.monotonic()
            result = await _attack(kiosk, lambda _i: 2, ["kiosk"], seed=1)
            elapsed = time.monotonic() - started
            print(f"\n24 simulated hours: {result['requests']} requests, {len(checks)} PINs checked, "
                  f"{result['outcome'][429]} refused unchecked, {elapsed:.1f} s real time")
            assert result["outcome"][401] == len(checks) == 20  # the policy: 20 in any 24 hours, then locked
            said = set(result["messages"])
            assert "Zu viele falsche Versuche. Bitte in 1 Minute erneut versuchen." in said  # after 5
            assert "Zu viele falsche Versuche. Bitte in 15 Minuten erneut versuchen." in said  # after 10 and 15
            assert any(m.startswith("Die PIN-Eingabe ist nach zu vielen falschen Versuchen gesperrt") for m in said)
            # Even the right PIN is not checked now.
            right = await kiosk.login_pin(2, VICTIM_PIN)
            assert right.status_code == 429 and right.json()["error"] == "locked" and len(checks) == 20
        assert set(kiosk.alarms("staff.locked")) == {("keypad:kiosk", "raised"), ("pin:2", "raised")}

        async with site.run() as kiosk:  # a restart forgets nothing
            checks = _count_checks(kiosk)
            right = await kiosk.login_pin(2, VICTIM_PIN)
            assert right.status_code == 429 and right.json()["error"] == "locked" and checks == []
            kiosk.clock.advance(7 * 24 * 3600)  # nor does time: only an operator lifts a lock
            assert (await kiosk.login_pin(2, VICTIM_PIN)).status_code == 429

            # The operator lifts both locks: the right PIN works again.
            token = await _operator(kiosk)
            for scope in ("keypad:kiosk", "pin:2"):
                reply = await kiosk.http.post("/api/staff/locks/unlock", headers=kiosk.auth(token),
                                              json={"scope": scope})
                assert reply.json() == {"scope": scope, "changed": True}
            assert (await kiosk.login_pin(2, VICTIM_PIN)).status_code == 200
        assert set(kiosk.alarms("staff.locked")) == {("keypad:kiosk", "cleared"), ("pin:2", "cleared")}
        problems, _types = kiosk.contract_problems()
        assert problems == [], problems


async def _operator(kiosk: Kiosk) -> str:
    """The operator's badge (a UID given over HTTP: these stations are simulated) and PIN."""
    reply = await kiosk.http.post("/api/staff/login/badge", json={"uid": OPERATOR_UID, "pin": OPERATOR_PIN})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


async def test_guessing_across_accounts_locks_the_keypad_and_badge_holders_still_get_in(tmp_path: Path) -> None:
    """Spread over many account numbers, the keypad's own count stops it; the badge path stays open."""
    async with make_site(tmp_path, walls=False, nfc=False, extra=SIMULATED) as site:
        assert cli(["users", "add", "--config", str(site.config_path), "--name", "Vera", "--pin-stdin",
                    "--badge-uid", BADGE], VICTIM_PIN + "\n") == 0
        async with site.run() as kiosk:
            checks = _count_checks(kiosk)
            result = await _attack(kiosk, lambda i: 2 + i % 50, ["kiosk"], seed=2)
            assert len(checks) == 20 and result["outcome"][401] == 20
            badge = await kiosk.http.post("/api/staff/login/badge", json={"uid": BADGE})
            assert badge.status_code == 200 and badge.json()["person"]["id"] == 2
        assert ("keypad:kiosk", "raised") in kiosk.alarms("staff.locked")
        assert ("pin:2", "raised") not in kiosk.alarms("staff.locked")


async def test_one_account_guessed_from_two_keypads_is_locked_by_its_own_count(tmp_path: Path) -> None:
    extra = SIMULATED + '\n[staff]\nkeypads = ["kiosk", "door"]\n'
    async with make_site(tmp_path, walls=False, nfc=False, extra=extra) as site:
        assert cli(["users", "add", "--config", str(site.config_path), "--name", "Vera", "--pin-stdin",
                    "--badge-uid", BADGE], VICTIM_PIN + "\n") == 0
        async with site.run() as kiosk:
            checks = _count_checks(kiosk)
            await _attack(kiosk, lambda _i: 2, ["kiosk", "door"], seed=3)
            assert len(checks) == 20
            refused = await kiosk.login_pin(2, VICTIM_PIN, "door")
            assert refused.status_code == 429 and "Dieses Konto" in refused.json()["message"]
            unknown = await kiosk.login_pin(2, VICTIM_PIN, "garage")
            assert unknown.status_code == 403 and unknown.json()["error"] == "unknown_keypad"
            # Vera's badge still works: the badge path is counted apart.
            assert (await kiosk.http.post("/api/staff/login/badge", json={"uid": BADGE})).status_code == 200
        locked = {s for s, state in kiosk.alarms("staff.locked") if state == "raised"}
        assert "pin:2" in locked and "keypad:kiosk" not in locked and "keypad:door" not in locked


async def test_a_pause_says_how_long_in_words_and_a_success_ends_the_run(tmp_path: Path) -> None:
    async with make_site(tmp_path, walls=False, nfc=False) as site:
        assert cli(["users", "add", "--config", str(site.config_path), "--name", "Vera", "--pin-stdin"],
                   VICTIM_PIN + "\n") == 0
        async with site.run() as kiosk:
            for _ in range(5):
                assert (await kiosk.login_pin(2, "000001")).status_code == 401
            paused = await kiosk.login_pin(2, VICTIM_PIN)
            assert paused.status_code == 429 and paused.headers["Retry-After"] == "60"
            kiosk.clock.advance(15)
            later = await kiosk.login_pin(2, VICTIM_PIN)
            assert later.headers["Retry-After"] == "45" and "in 45 Sekunden" in later.json()["message"]
            kiosk.clock.advance(45)
            assert (await kiosk.login_pin(2, VICTIM_PIN)).status_code == 200
            for _ in range(4):  # the run of failures started again from zero
                assert (await kiosk.login_pin(2, "000001")).status_code == 401
            assert (await kiosk.login_pin(2, VICTIM_PIN)).status_code == 200
