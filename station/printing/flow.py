"""The print job flow, persisted in `print_jobs.state`: a job is sent to the printer at most once.

    queued ──► sending ──► printed ■
      │  ▲        ├──► unconfirmed ■   (bytes went out, the status after shows a fault: what is on paper is unknown)
      │  └────────┘                    (refused before a byte was sent: paper out, cover open, no answer)
      └──► expired ■                   (older than `job_max_age_s` when the printer could take it: the shopper left)

`sending` is committed before the first byte goes out, so a crash while sending leaves a job that
is never sent again (recovery: unconfirmed); a reconnect therefore never reprints, and an old
backlog expires instead of printing for nobody. A reprint is a new job of the same receipt (the same
voucher code: the ledger, not the paper, decides whether a voucher can still be redeemed).
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.returns_models import PrintJob, Receipt
from ..flows.engine import Arrow, Flow


class PrintState(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    PRINTED = "printed"
    UNCONFIRMED = "unconfirmed"
    EXPIRED = "expired"


FINAL = frozenset({PrintState.PRINTED, PrintState.UNCONFIRMED, PrintState.EXPIRED})
PENDING = (PrintState.QUEUED, PrintState.SENDING)


def _arrows() -> list[Arrow[PrintState]]:
    P = PrintState
    return [
        Arrow(None, P.QUEUED, "a receipt to print (stored with what caused it)", audit=False),
        Arrow(P.QUEUED, P.SENDING, "the printer is ready: about to send the bytes", audit=False),
        Arrow(P.SENDING, P.PRINTED, "the status after the job shows no fault", audit=False),
        Arrow(P.SENDING, P.QUEUED, "refused before a byte was sent: stays in the queue", audit=False),
        Arrow(P.SENDING, P.UNCONFIRMED, "sent (or maybe sent), not confirmed: never sent again",
              event="print_job.unconfirmed"),
        Arrow(P.QUEUED, P.EXPIRED, "too old to print: the digital receipt is the receipt", event="print_job.expired"),
    ]


def job_payload(session: Session, job_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    """What did not reach the paper: the receipt (kind and what it belongs to, e.g. a voucher) and why."""
    row = session.execute(
        select(PrintJob.receipt_id, PrintJob.attempts, PrintJob.created_at, Receipt.kind, Receipt.reference)
        .join(Receipt, Receipt.id == PrintJob.receipt_id).where(PrintJob.id == job_id)
    ).one()
    return {"job_id": job_id, "receipt_id": row.receipt_id, "kind": row.kind, "receipt_of": row.reference,
            "attempts": row.attempts, "queued_at": row.created_at.isoformat(), **details}


PRINT_JOB = Flow(
    name="print_job",
    table=PrintJob.__table__,  # type: ignore[arg-type]
    states=PrintState,
    arrows=_arrows(),
    final=FINAL,
    recovery={
        PrintState.QUEUED: "nothing to do: the queue sends it when the printer is ready, or lets it expire",
        PrintState.SENDING: "unconfirmed: bytes may have gone out before the crash, so it is never sent again",
    },
    payload=job_payload,
)
