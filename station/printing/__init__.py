"""Receipts out: digital receipts (`desk`, `html`) and the persisted print queue (`flow`, `service`)."""

from .desk import DeskSettings, ReceiptDesk, desk_from_config, new_receipt_id
from .flow import PRINT_JOB, PrintState
from .service import PrintService

__all__ = ["PRINT_JOB", "DeskSettings", "PrintService", "PrintState", "ReceiptDesk", "desk_from_config",
           "new_receipt_id"]
