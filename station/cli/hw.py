"""`station hw ...`: service-technician commands that talk to one device directly."""

from __future__ import annotations

import argparse

from . import hw_deposit, hw_fridge, hw_locks, hw_nfc, hw_printer, hw_terminal

DEVICES = (hw_locks, hw_fridge, hw_terminal, hw_nfc, hw_printer, hw_deposit)


def register(subparsers: argparse._SubParsersAction) -> None:
    hw = subparsers.add_parser("hw", help="talk to one device directly (service technician)")
    hw_sub = hw.add_subparsers(dest="hw_command", required=True, metavar="DEVICE")
    for module in DEVICES:
        module.register(hw_sub)
