"""`station users add|list|disable|reset-pin|badge|unlock`: accounts on the station itself.

There is no default account: the first operator is made here. A PIN is typed twice at a prompt
(or read from standard input with `--pin-stdin`, for scripts), never given on the command line.
Run it as the service user (`sudo -u station station users ...`), so the database and the key
file beside it stay the daemon's. The daemon may keep running: SQLite serialises the writes, and
a disabled account's session ends at its next request.

Exit codes: 0 done · 1 refused (the message says why) · 2 bad config, database or arguments.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_config
from ..db import migrate
from ..db.engine import Database, DatabaseError
from ..db.types import utcnow
from ..staff import accounts, throttle
from ..staff.accounts import AccountError, Role
from ..staff.pins import PinRejected, check_new_pin, hash_pin
from ..staff.secret import SecretError, StationSecret, normalise_uid

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="accounts of volunteers, operators and couriers at this station")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = users_sub.add_parser("add", help="add an account (the first one: an operator)")
    _common(add)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.VOLUNTEER.value)
    add.add_argument("--badge-uid", metavar="HEX", help="badge UID (see `station hw nfc read`); needed for operators")
    add.add_argument("--no-pin", action="store_true", help="badge only (volunteers and couriers)")
    _pin_option(add)
    add.set_defaults(handler=cmd_add)

    show = users_sub.add_parser("list", help="list accounts and log-in locks")
    _common(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_list)

    disable = users_sub.add_parser("disable", help="disable an account (no more log-ins)")
    _common(disable)
    disable.add_argument("--id", type=int, required=True, help="the account's number")
    disable.add_argument("--reason")
    disable.set_defaults(handler=cmd_disable)

    reset = users_sub.add_parser("reset-pin", help="set a new PIN (also lifts the account's PIN lock)")
    _common(reset)
    reset.add_argument("--id", type=int, required=True, help="the account's number")
    _pin_option(reset)
    reset.set_defaults(handler=cmd_reset_pin)

    badge = users_sub.add_parser("badge", help="bind a badge to an account, or remove it")
    _common(badge)
    badge.add_argument("--id", type=int, required=True, help="the account's number")
    which = badge.add_mutually_exclusive_group(required=True)
    which.add_argument("--badge-uid", metavar="HEX")
    which.add_argument("--remove", action="store_true")
    badge.set_defaults(handler=cmd_badge)

    unlock = users_sub.add_parser("unlock", help="lift a log-in lock: keypad:<id>, pin:<n>, reader:nfc, badge:<n>")
    _common(unlock)
    unlock.add_argument("--scope", required=True)
    unlock.set_defaults(handler=cmd_unlock)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="station TOML file")


def _pin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input (one line)")


class _Refused(Exception):
    pass


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _open(config_path: Path) -> tuple[Database, StationSecret]:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise _Refused(str(exc)) from None
    path = config.database.path
    if migrate.status(path).pending:
        migrate.upgrade(path)
    db = Database(path, config.database.busy_timeout_ms)
    try:
        db.open_sync()
    except DatabaseError as exc:
        raise _Refused(f"cannot open the database: {exc}") from None
    return db, StationSecret(config.staff.secret_path(path))


def _read_pin(args: argparse.Namespace) -> str:
    if args.pin_stdin:
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass("PIN (6-12 Ziffern): ")
        if getpass.getpass("PIN wiederholen: ") != pin:
            raise _Refused("the two PINs differ")
    try:
        check_new_pin(pin)
    except PinRejected as exc:
        raise _Refused(str(exc)) from None
    return pin


def _run(args: argparse.Namespace, work: Any) -> int:
    """Open, do, close; prints refusals on stderr with their exit code."""
    try:
        db, secret = _open(args.config)
    except _Refused as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(work(db, secret))
    except (_Refused, AccountError, SecretError, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        db.close_sync()


def _show(account: accounts.Account) -> str:
    ways = [w for w, has in (("PIN", account.has_pin), ("badge", account.has_badge)) if has] or ["no way in yet"]
    state = "active" if account.active else "disabled"
    return f"{account.id:>4}  {account.name:<30} {account.role!s:<10} {state:<9} {' + '.join(ways)}"


def cmd_add(args: argparse.Namespace) -> int:
    role = Role(args.role)
    if role is Role.OPERATOR and (args.no_pin or not args.badge_uid):
        print("an operator logs in with badge and PIN: give --badge-uid and a PIN", file=sys.stderr)
        return EXIT_USAGE
    try:
        pin = None if args.no_pin else _read_pin(args)
    except _Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED

    def work(db: Database, secret: StationSecret) -> int:
        pin_hash = hash_pin(secret, pin) if pin is not None else None
        badge_hash = secret.badge_digest(normalise_uid(args.badge_uid)) if args.badge_uid else None
        account = db.run_sync(lambda s: accounts.add(s, name=args.name, role=role, actor=_actor(), pin_hash=pin_hash,
                                                     badge_hash=badge_hash))  # fmt: skip
        print(_show(account))
        print(f"Kennnummer {account.id}: log in with it and the PIN" + (" (badge and PIN)" if role is Role.OPERATOR
                                                                        else ""))  # fmt: skip
        return EXIT_OK

    return _run(args, work)


def cmd_list(args: argparse.Namespace) -> int:
    def work(db: Database, _secret: StationSecret) -> int:
        found = db.run_sync(accounts.list_accounts, write=False)
        locks = db.run_sync(lambda s: throttle.states(s, utcnow()), write=False)
        if args.json:
            print(json.dumps({"accounts": [a.as_dict() for a in found], "locks": locks}, indent=2))
            return EXIT_OK
        for account in found:
            print(_show(account))
        for lock in locks:
            paused = f"paused until {lock['paused_until']}" if lock["paused_until"] else "failures"
            what = "LOCKED" if lock["locked_since"] else paused
            print(f"{lock['scope']:<20} {what}; {lock['failures_24h']} failures in 24 h, {lock['in_a_row']} in a row")
        return EXIT_OK

    return _run(args, work)


def cmd_disable(args: argparse.Namespace) -> int:
    def work(db: Database, _secret: StationSecret) -> int:
        account = db.run_sync(lambda s: accounts.disable(s, args.id, actor=_actor(), reason=args.reason))
        print(_show(account))
        return EXIT_OK

    return _run(args, work)


def cmd_reset_pin(args: argparse.Namespace) -> int:
    try:
        pin = _read_pin(args)
    except _Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED

    def work(db: Database, secret: StationSecret) -> int:
        pin_hash = hash_pin(secret, pin)

        def write(session: Any) -> accounts.Account:
            account = accounts.set_pin(session, args.id, pin_hash, actor=_actor())
            throttle.unlock(session, throttle.pin_scope(args.id), actor=_actor())
            return account

        print(_show(db.run_sync(write)))
        return EXIT_OK

    return _run(args, work)


def cmd_badge(args: argparse.Namespace) -> int:
    def work(db: Database, secret: StationSecret) -> int:
        badge_hash = None if args.remove else secret.badge_digest(normalise_uid(args.badge_uid))
        print(_show(db.run_sync(lambda s: accounts.set_badge(s, args.id, badge_hash, actor=_actor()))))
        return EXIT_OK

    return _run(args, work)


def cmd_unlock(args: argparse.Namespace) -> int:
    def work(db: Database, _secret: StationSecret) -> int:
        changed = db.run_sync(lambda s: throttle.unlock(s, args.scope, actor=_actor()))
        print(f"{args.scope}: {'unlocked' if changed else 'was not locked'}")
        return EXIT_OK

    return _run(args, work)
