"""The purchase service's refusals (shared by the service and the cart it creates)."""

from __future__ import annotations


class PurchaseError(Exception):
    """A purchase that cannot start or change; `code` is for the API ("busy", "not_available", ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
