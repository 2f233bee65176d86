"""`station hw nfc read`: wait for one card on the NFC reader and print its UID and NDEF records.

--device is an nfcpy device path: `usb`, `usb:054c:06c1` (Sony RC-S380), `tty:USB0:pn532`,
`udp:127.0.0.1:54321` (the simulator, `python -m simulators.nfc`).
Exit codes: 0 a card was read · 1 no card within --timeout · 2 wrong arguments · 3 the reader cannot be
opened (or was lost while waiting).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

from common.availability import AvailabilitySnapshot
from drivers.nfc import NfcReader, NfcReaderSettings, TagRead

EXIT_OK, EXIT_NO_CARD, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class ReaderUnavailable(Exception):
    """The reader could not be opened, or went away while we waited."""


def register(hw_subparsers: argparse._SubParsersAction) -> None:
    """Add the `nfc` device command (with its own sub-commands) to `station hw`."""
    nfc = hw_subparsers.add_parser("nfc", help="NFC reader (badges, customer cards)")
    sub = nfc.add_subparsers(dest="nfc_command", required=True, metavar="ACTION")
    read = sub.add_parser("read", help="wait for one card and print its UID and NDEF records")
    read.add_argument("--device", required=True, help="nfcpy device path: usb[:vid:pid], tty:USB0:pn532, udp:HOST:PORT")
    read.add_argument("--timeout", type=float, default=10.0, metavar="S", help="give up after S seconds (default 10)")
    read.add_argument(
        "--targets",
        default="106A,106B,212F",
        help="technologies to poll, comma-separated (default 106A,106B,212F; the simulator needs only 106A)",
    )
    read.add_argument("--json", action="store_true", help="print the card as JSON")
    read.set_defaults(handler=read_command)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The command prints its own verdict: silence the reader's down/up lines."""
    logger = logging.getLogger("drivers")
    saved = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(saved)


def read_command(args: argparse.Namespace) -> int:
    try:
        settings = NfcReaderSettings(
            device=args.device,
            targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
            poll_s=0.1,
            debounce_s=1.0,
        )
        if args.timeout <= 0:
            raise ValueError("--timeout must be positive")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with _quiet_logs():
        try:
            tap = asyncio.run(read_one(settings, args.timeout))
        except ReaderUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except TimeoutError:
            print(f"error: no card read within {args.timeout:g} s on {args.device}", file=sys.stderr)
            return EXIT_NO_CARD
    print(json.dumps(tap.to_dict(), ensure_ascii=False, indent=2) if args.json else format_tap(tap))
    return EXIT_OK


async def read_one(settings: NfcReaderSettings, timeout_s: float) -> TagRead:
    """The first card read within `timeout_s`; ReaderUnavailable as soon as the reader is (or goes) down."""
    lost: asyncio.Future[AvailabilitySnapshot] = asyncio.get_running_loop().create_future()

    def on_state(snapshot: AvailabilitySnapshot) -> None:
        if snapshot.available is False and not lost.done():
            lost.set_result(snapshot)

    async with NfcReader(settings, name="cli") as reader:
        reader.subscribe_state(on_state)
        tap_task = asyncio.ensure_future(reader.next_tap())
        either: list[asyncio.Future[Any]] = [tap_task, lost]
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            tap_task.cancel()
        if tap_task.done() and not tap_task.cancelled():
            return tap_task.result()
        raise ReaderUnavailable(lost.result().last_error or f"NFC reader {settings.device} is down")


def format_tap(tap: TagRead) -> str:
    """Plain text for a technician: the UID line, then one line per NDEF record."""
    kind = ", ".join(part for part in (tap.product, tap.tag_type, tap.technology) if part)
    rows = [f"UID {tap.uid_hex}  ({kind})"]
    for record in tap.ndef_records:
        if record.uri is not None:
            rows.append(f"  NDEF uri   {record.uri}")
        elif record.text is not None:
            rows.append(f"  NDEF text  [{record.language}] {record.text}")
        else:
            rows.append(f"  NDEF {record.type}  {record.payload.hex()}")
    if not tap.ndef_records:
        rows.append("  NDEF none")
    return "\n".join(rows)
