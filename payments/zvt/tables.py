"""Result codes, intermediate-status texts and registration config bits as data (zvt.md §4-§6).

Texts are for logs and the technician CLI; the shopper UI maps codes to its own wording.
"""

from __future__ import annotations

from enum import IntFlag

RESULT_CODES: dict[int, str] = {
    0x00: "no error",
    0x05: "declined by the card issuer",
    0x64: "card not readable",
    0x65: "card data not present",
    0x66: "processing error / goods not issued",
    0x6A: "turnover file full",
    0x6B: "function deactivated (terminal not registered)",
    0x6C: "aborted by timeout or abort key",
    0x6F: "wrong currency",
    0x77: "end-of-day batch not possible",
    0x78: "card expired",
    0x7D: "communication error",
    0x83: "function not possible",
    0x9A: "ZVT protocol error",
    0x9C: "please wait / repeat status information",
    0xA0: "receiver not ready",
    0xA3: "no connection",
    0xB1: "memory full (end-of-day overdue)",
    0xB4: "already reversed",
    0xB5: "reversal not possible",
    0xB7: "pre-authorisation incorrect (amount too high)",
    0xB8: "pre-authorisation error",
    0xC2: "diagnosis required",
    0xC3: "maximum amount exceeded",
    0xCC: "printer not ready",
    0xE4: "terminal activation required",
    0xF0: "open end-of-day batch present",
    0xFF: "system error",
}

HOST_CODES = range(0x01, 0x64)  # 01-63 come from the authorisation host


def result_text(code: int) -> str:
    """Text for a result code (BMP 27, 06 1E, 84 xx 00)."""
    if code in RESULT_CODES:
        return RESULT_CODES[code]
    if code in HOST_CODES:
        return f"declined by the authorisation host (code {code:02X})"
    return f"unknown result code {code:02X}"


_INTERMEDIATE_BASE: dict[int, str] = {
    0x00: "waiting for amount confirmation",
    0x01: "please watch PIN pad",
    0x02: "please watch PIN pad",
    0x03: "not accepted",
    0x04: "waiting for response from host",
    0x05: "sending auto-reversal",
    0x06: "sending post-bookings",
    0x0A: "insert card",
    0x0B: "please remove card",
    0x0C: "card not readable",
    0x0E: "please wait",
    0x0F: "automatic end-of-day starting",
    0x13: "payment not possible",
    0x14: "credit not sufficient",
    0x15: "incorrect PIN",
    0x17: "please wait",
    0x18: "PIN try limit exceeded",
    0x1C: "approved, please take goods",
    0x1D: "declined",
}

# 41-5D: the texts of 01-1D followed by "please remove card".
INTERMEDIATE_STATUS: dict[int, str] = {
    **_INTERMEDIATE_BASE,
    **{code + 0x40: f"{text}, please remove card" for code, text in _INTERMEDIATE_BASE.items() if 0x01 <= code <= 0x1D},
}


def intermediate_text(code: int) -> str:
    return INTERMEDIATE_STATUS.get(code, f"terminal status {code:02X}")


class ConfigByte(IntFlag):
    """Registration config byte bits (zvt.md §6)."""

    ECR_PRINTS_PAYMENT_RECEIPTS = 0x02
    ECR_PRINTS_ADMIN_RECEIPTS = 0x04
    INTERMEDIATE_STATUS = 0x08
    ECR_CONTROLS_PAYMENT = 0x10
    ECR_CONTROLS_ADMIN = 0x20
    RECEIPTS_AS_PRINT_LINES = 0x80


# Every receipt reaches the daemon, intermediate statuses on, ECR controls everything.
UNATTENDED_CONFIG = 0xBE
