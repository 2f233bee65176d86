"""The voucher flow, persisted in `vouchers.state`: one voucher is redeemed at most once.

    (stored before printing) issued ──► held ──► redeemed ■      (a purchase released goods)
                               │  ▲      │
                               │  └──────┘                       (the purchase ended without goods: given back)
                               ├─► redeemed ■                    (the platform: taken at the village shop)
                               └─► void ■                        (the operator voided it)

`issued` is resting (the shopper has the paper or the credit; nothing runs). `held` belongs to a
purchase in progress: the purchase's final arrow settles it in the same transaction (redeemed when
goods were released, issued again otherwise), so a held voucher never outlives its sale's outcome.
Every redemption is one state change in one transaction, so two scans, two stations' commands or
a scan racing a command can never both succeed.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Priority, Voucher
from ..flows.engine import Arrow, Flow


class VoucherState(enum.StrEnum):
    ISSUED = "issued"
    HELD = "held"
    REDEEMED = "redeemed"
    VOID = "void"


def _arrows() -> list[Arrow[VoucherState]]:
    V, M = VoucherState, Priority.MONEY
    return [
        Arrow(None, V.ISSUED, "stored before it is printed or shown", event="voucher.issued", priority=M),
        Arrow(V.ISSUED, V.HELD, "applied to a purchase in progress"),
        Arrow(V.HELD, V.ISSUED, "the purchase ended without goods: the credit is given back"),
        Arrow(V.HELD, V.REDEEMED, "the purchase released goods: the credit paid for them", event="voucher.redeemed",
              priority=M),
        Arrow(V.ISSUED, V.REDEEMED, "redeemed by the platform (e.g. at the village shop)", event="voucher.redeemed",
              priority=M),
        Arrow(V.ISSUED, V.VOID, "voided by the operator", event="voucher.void", priority=M),
    ]


def voucher_payload(session: Session, voucher_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    voucher = session.execute(
        select(Voucher).where(Voucher.id == voucher_id).execution_options(populate_existing=True)
    ).scalar_one()
    return {
        "voucher_id": voucher.id,
        "code": voucher.code,
        "serial": voucher.serial,
        "amount_cents": voucher.amount_cents,
        "origin": voucher.origin,
        "medium": voucher.medium,
        "deposit_return_id": voucher.deposit_return_id,
        "sale_id": voucher.sale_id,
        "redeemed_by": voucher.redeemed_by,  # "state": the engine adds the arrow's target
        **details,
    }


VOUCHER = Flow(
    name="voucher",
    table=Voucher.__table__,  # type: ignore[arg-type]
    states=VoucherState,
    arrows=_arrows(),
    final=frozenset({VoucherState.REDEEMED, VoucherState.VOID}),
    resting=frozenset({VoucherState.ISSUED}),
    recovery={
        VoucherState.HELD: "left to its purchase (the sale's final arrow settles it); a held voucher whose sale "
        "is already final is settled now: redeemed if goods were released, else issued again",
    },
    payload=voucher_payload,
)
