"""The receipt desk: every receipt is stored as a digital receipt first, and queued for the printer if wanted.

A receipt row holds the template data (`station/receipts` models, as JSON) under a 128-bit random
id; the printed job and the page at `/api/receipts/{id}` are both rendered from it. `create` and
`enqueue` run in the caller's transaction, so a voucher's receipt and its print job commit together
with the voucher, before a byte is printed. The desk does no I/O itself; the print service sends.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..db.returns_models import PrintJob, Receipt
from ..db.types import utcnow
from ..flows.engine import created
from ..receipts import Shop, render_receipt, to_json, validate
from .flow import PENDING, PRINT_JOB, PrintState
from .html import render_page

RECEIPT_ID_BYTES = 16  # 128 bits: the page may show payment data and is linked from a QR code


def new_receipt_id() -> str:
    """22 URL-safe characters carrying 128 random bits."""
    return secrets.token_urlsafe(RECEIPT_ID_BYTES)


@dataclass(frozen=True)
class DeskSettings:
    shop: Shop
    base_url: str  # e.g. http://127.0.0.1:8080 (no trailing slash)
    language: str = "de"
    columns: int = 48
    qr_size: int = 4
    timezone: str = "Europe/Berlin"
    printer: bool = False  # a printer is configured: receipts may be queued
    print_purchases: bool = True


class ReceiptDesk:
    def __init__(self, settings: DeskSettings) -> None:
        self.settings = settings

    @property
    def shop(self) -> Shop:
        return self.settings.shop

    @property
    def has_printer(self) -> bool:
        return self.settings.printer

    def url(self, receipt_id: str) -> str:
        return f"{self.settings.base_url}/api/receipts/{receipt_id}"

    # -- writing (in the caller's transaction) ------------------------------------------------------
    def create(
        self, session: Session, kind: str, build: Callable[[str], Any], *, reference: str | None = None
    ) -> str:
        """Store a receipt; `build(url)` returns its data (the kind's dataclass or dict). Returns the receipt id."""
        receipt_id = new_receipt_id()
        model = validate(kind, build(self.url(receipt_id)))
        session.execute(
            insert(Receipt).values(id=receipt_id, kind=kind, reference=reference, language=self.settings.language,
                                   data=to_json(kind, model), created_at=utcnow())
        )
        return receipt_id

    def enqueue(self, session: Session, receipt_id: str, *, actor: str = "system") -> str | None:
        """Queue one print of the receipt (None when the station has no printer); a pending job is reused."""
        if not self.settings.printer:
            return None
        pending = session.scalar(
            select(PrintJob.id).where(PrintJob.receipt_id == receipt_id, PrintJob.state.in_([str(s) for s in PENDING]))
        )
        if pending is not None:
            return pending
        job_id = str(uuid.uuid4())
        now = utcnow()
        session.execute(insert(PrintJob).values(id=job_id, receipt_id=receipt_id, state=PrintState.QUEUED.value,
                                                attempts=0, created_at=now, updated_at=now))
        created(session, PRINT_JOB, job_id, actor=actor, reference=receipt_id)
        return job_id

    # -- reading -------------------------------------------------------------------------------------
    @staticmethod
    def get(session: Session, receipt_id: str) -> Receipt | None:
        return session.get(Receipt, receipt_id)

    @staticmethod
    def for_reference(session: Session, reference: str, kind: str | None = None) -> Receipt | None:
        query = select(Receipt).where(Receipt.reference == reference)
        if kind is not None:
            query = query.where(Receipt.kind == kind)
        return session.scalar(query.order_by(Receipt.created_at.desc()).limit(1))

    @staticmethod
    def print_state(session: Session, receipt_id: str) -> str | None:
        """The newest print job's state for the receipt (None: never queued)."""
        return session.scalar(
            select(PrintJob.state).where(PrintJob.receipt_id == receipt_id).order_by(PrintJob.created_at.desc())
            .limit(1)
        )

    # -- rendering -----------------------------------------------------------------------------------
    def escpos(self, receipt: Receipt) -> bytes:
        s = self.settings
        return render_receipt(receipt.kind, receipt.data, receipt.language, columns=s.columns, timezone=s.timezone,
                              qr_size=s.qr_size)

    def html(self, receipt: Receipt) -> str:
        model = validate(receipt.kind, receipt.data)
        title = f"{self.settings.shop.name} – Beleg" if receipt.language == "de" else f"{self.settings.shop.name}"
        return render_page(receipt.kind, model, receipt.language, title=title, columns=self.settings.columns,
                           timezone=self.settings.timezone, own_url=self.url(receipt.id))


def desk_from_config(config: Any) -> ReceiptDesk:
    """The desk for a station config (`[station]`, `[http]`, `[receipts]`, `[printer]`)."""
    receipts, printer, http = config.receipts, config.printer, config.http
    host = "127.0.0.1" if http.host in ("0.0.0.0", "::") else http.host
    base = receipts.base_url or f"http://{host}:{http.port}"
    shop = Shop(name=config.station.name, address=tuple(receipts.address), station_id=config.station.id,
                operator=receipts.operator, vat_id=receipts.vat_id, hotline=config.station.hotline)
    options: dict[str, Any] = printer.render_options() if printer is not None else {}
    return ReceiptDesk(
        DeskSettings(
            shop=shop, base_url=base, language=options.get("language", "de"), columns=options.get("columns", 48),
            qr_size=options.get("qr_size", 4), timezone=config.station.timezone, printer=printer is not None,
            print_purchases=receipts.print_purchases,
        )
    )
