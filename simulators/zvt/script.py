"""Simulator settings and scripted card outcomes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal


class Outcome(Enum):
    APPROVE = "approve"
    DECLINE = "decline"  # status information with a result code, then 06 1E
    NO_CARD = "no_card"  # nobody presents a card: 06 1E 6C after `card_wait_s`
    CARD_REMOVED = "card_removed"  # card pulled while reading: "card not readable", 06 1E 64
    BUSY = "busy"  # the command is refused with 84 <busy_code> 00
    SILENCE = "silence"  # accepted, then nothing until the ECR sends a new command
    DROP_BEFORE_RESULT = "drop_before_result"  # link cut after the card was read: nothing booked
    DROP_AFTER_APPROVAL = "drop_after_approval"  # approval sent, then the link is cut (see on_lost_ack)


@dataclass(frozen=True)
class Script:
    """One scripted card: what happens to the next card transaction.

    `status_apdu`: send exactly these bytes as the status information (APPROVE or DECLINE), e.g. a
    captured or published real-terminal message. The ledger books the amount, receipt and trace
    number it carries (as far as our codec reads them; else the command's amount and our numbers).
    """

    outcome: Outcome
    result_code: int = 0x05  # for DECLINE
    card: int | None = None  # index into ledger.CARDS; None = seeded random
    status_apdu: bytes | None = None


@dataclass
class SimConfig:
    seed: int = 1
    terminal_id: str = "52500038"
    password: str = "123456"
    currency: int = 978
    sw_version: str = "SIM-ZVT 1.0"
    require_registration: bool = False
    step_s: float = 0.02  # pause between the steps of a card transaction
    card_wait_s: float = 0.3  # how long NO_CARD waits before giving up
    ack_timeout_s: float = 5.0  # how long we wait for the ECR's answer to each message
    resend_s: float = 0.2  # status information repeat interval after "please wait" (real PTs: 2-4 s)
    prompt_timeout_s: int | None = None  # timeout byte sent with "insert card" (None: none sent)
    # Missing acknowledgement of an approval (link cut, ECR silent): the spec lets the PT reverse
    # (CCV: every failed transfer of the status information is auto-reversed). "book" models a PT
    # that books anyway, so the station's reconciliation can be tested against it.
    on_lost_ack: Literal["reverse", "book"] = "reverse"
    decline_cents_suffix: int = 99  # amounts whose cents equal this are declined (result 05)
    max_amount_cents: int = 100_000  # above: declined with C3 (maximum amount exceeded)
    busy_code: int = 0xA0  # 84 xx 00 code for a busy terminal [unverified]
    refunds_allowed: bool = True
    # Answer to the open pre-authorisation enquiry (06 23 87 FF FF): one status information per
    # reservation, or (Feig style, EVerest/zvt) an abort B8 naming one receipt, FF FF for none.
    preauth_enquiry: Literal["status", "abort"] = "status"
    t1_s: float = 0.2  # serial: inter-byte gap the ECR tolerates (for the late-bytes fault)
    frame_ack_s: float = 1.0  # serial: wait for the ECR's ACK byte
    clock: Callable[[], dt.datetime] = field(default=dt.datetime.now)
