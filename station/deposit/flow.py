"""The return session flow, persisted in `deposit_returns.state`: containers in, then the shopper's choice.

    open ──► counting ──► choosing ──► voucher ■   (voucher(s) stored, then printed)
      │          │            ├──────► credit ■    (a credit to spend at the till now; shown, not printed)
      │          │            └──────► donated ■   (given to the configured recipient)
      └──────────┴──► cancelled ■                  (the machine refused, or nothing was accepted)

`open` is committed before the machine is asked to open a session (with the session id the
machine showed before, so recovery can tell whether the command arrived). Every accepted container
is its own committed step (`deposit_return_items`, crash point `deposit_return.container`) before
the machine's FIFO event is acknowledged, so none is lost and none counted twice
(`deposit.fifo.EventCursor`). `choosing` is committed once the machine's session is over and its
FIFO drained: the total is final. The choice writes the return's final state, its vouchers (issued),
their digital receipts and print jobs in one transaction; the printer comes after.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import DepositReturn, Priority, Voucher
from ..flows.engine import Arrow, Flow


class ReturnState(enum.StrEnum):
    OPEN = "open"
    COUNTING = "counting"
    CHOOSING = "choosing"
    VOUCHER = "voucher"
    CREDIT = "credit"
    DONATED = "donated"
    CANCELLED = "cancelled"


SETTLED = {"voucher": ReturnState.VOUCHER, "credit": ReturnState.CREDIT, "donation": ReturnState.DONATED}
FINAL = frozenset({ReturnState.VOUCHER, ReturnState.CREDIT, ReturnState.DONATED, ReturnState.CANCELLED})
LATE_ALARM = "deposit.late_container"


def _arrows() -> list[Arrow[ReturnState]]:
    R, M = ReturnState, Priority.MONEY
    return [
        Arrow(None, R.OPEN, "the shopper starts a return: about to ask the machine for a session"),
        Arrow(R.OPEN, R.COUNTING, "the machine opened its session"),
        Arrow(R.OPEN, R.CANCELLED, "the machine refused or never opened the session", event="deposit_return.cancelled",
              priority=M),
        Arrow(R.COUNTING, R.CHOOSING, "the session is over and every container is stored: the total is final"),
        Arrow(R.COUNTING, R.CANCELLED, "the session ended without a container", event="deposit_return.cancelled",
              priority=M),
        Arrow(R.CHOOSING, R.VOUCHER, "paid out as voucher(s), stored before printing", event="deposit_return.voucher",
              priority=M),
        Arrow(R.CHOOSING, R.CREDIT, "paid out as a credit for a purchase now", event="deposit_return.credit",
              priority=M),
        Arrow(R.CHOOSING, R.DONATED, "given to the configured recipient", event="deposit_return.donated", priority=M),
    ]


def return_payload(session: Session, return_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    """The money event: what was returned, what the station pays, and how."""
    row = session.execute(
        select(DepositReturn).where(DepositReturn.id == return_id).execution_options(populate_existing=True)
    ).scalar_one()
    issued = session.scalars(select(Voucher).where(Voucher.issued_for == return_id).order_by(Voucher.issued_at))
    return {
        "return_id": row.id,  # "state": the engine adds the arrow's target
        "total_cents": row.total_cents,
        "count": row.count,
        "machine_cents": row.machine_cents,
        "machine_session": row.machine_session,
        "items": [dict(item) for item in (row.items or {}).values()],
        "choice": row.choice,
        "vouchers": [{"voucher_id": v.id, "code": v.code, "amount_cents": v.amount_cents, "medium": v.medium}
                     for v in issued],
        **details,
    }


RETURN = Flow(
    name="deposit_return",
    table=DepositReturn.__table__,  # type: ignore[arg-type]
    states=ReturnState,
    arrows=_arrows(),
    final=FINAL,
    recovery={
        ReturnState.OPEN: "ask the machine: its session id moved past the one stored → counting (the session "
        "goes on or is closed), else cancelled; retried while the machine is silent",
        ReturnState.COUNTING: "goes on: the FIFO is drained as usual; the shopper finishes on the screen, or the "
        "session is closed when the machine ended it or after session_timeout_s without a container",
        ReturnState.CHOOSING: "waits for the shopper's choice again; after choice_timeout_s a voucher is issued "
        "and printed",
    },
    payload=return_payload,
)
