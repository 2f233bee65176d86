"""Run a simulated NFC reader field: `python -m simulators.nfc --uid 04A1B2C3D4E5F6 --uri https://… --present`.

Prints `udp udp:HOST:PORT` (the device path for the reader) and serves until SIGINT/SIGTERM.
Commands on stdin, one per line: `present` (the --uid card), `present UID` (another card, no NDEF),
`remove`, `quit`. Each is answered with one line on stdout.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TextIO

import ndef

from .field import NfcTagSimulator, TagFaults
from .ntag213 import Ntag213


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.nfc", description="Simulated NTAG213 cards on UDP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="UDP port (0 = any free port; nfcpy's default is 54321)")
    parser.add_argument("--uid", default="04A1B2C3D4E5F6", help="7-byte UID of the default card, hex")
    parser.add_argument("--uri", action="append", default=[], help="URI record on the default card (repeatable)")
    parser.add_argument("--text", action="append", default=[], help="text record on the default card (repeatable)")
    parser.add_argument("--lang", default="de", help="language of the text records")
    parser.add_argument("--present", action="store_true", help="hold the default card to the reader from the start")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of replies lost (fault knob)")
    parser.add_argument("--seed", type=int, default=1)
    return parser


def _command(sim: NfcTagSimulator, line: str) -> str:
    """Apply one stdin command; the reply line."""
    words = line.split()
    if not words:
        return ""
    if words[0] == "present":
        card = sim.present(Ntag213.create(words[1]) if len(words) > 1 else None)
        return f"present {card.uid_hex}"
    if words[0] == "remove":
        sim.remove()
        return "removed"
    return f"unknown command {words[0]!r} (present [UID] | remove | quit)"


def _read_commands(sim: NfcTagSimulator, stream: TextIO, done: threading.Event) -> None:
    for line in stream:
        if line.strip() == "quit":
            break
        try:
            reply = _command(sim, line)
        except ValueError as exc:
            reply = f"error: {exc}"
        if reply:
            print(reply, flush=True)
    else:
        return  # stdin closed (e.g. started in the background): keep serving until a signal
    done.set()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    records: list[ndef.Record] = [ndef.UriRecord(uri) for uri in args.uri]
    records += [ndef.TextRecord(text, args.lang) for text in args.text]
    sim = NfcTagSimulator(args.uid, records, faults=TagFaults(drop_rate=args.drop_rate), seed=args.seed)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    sim.start(args.host, args.port)
    try:
        if args.present:
            sim.present()
        print("udp", sim.device_path, flush=True)
        threading.Thread(target=_read_commands, args=(sim, sys.stdin, done), name="nfc-sim-stdin", daemon=True).start()
        done.wait()
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
