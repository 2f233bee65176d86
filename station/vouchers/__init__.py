"""The voucher ledger (Pfandbons and station credit): flow, ledger functions, service."""

from .flow import VOUCHER, VoucherState
from .ledger import MAX_CREDIT_CENTS, VoucherError, VoucherView
from .service import Throttle, VoucherService

__all__ = ["MAX_CREDIT_CENTS", "VOUCHER", "Throttle", "VoucherError", "VoucherService", "VoucherState",
           "VoucherView"]
