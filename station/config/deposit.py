"""Configuration of the deposit return machine: where it is, how it is polled, what each container is worth.

Amounts are configuration, never code (hardware.md §3.1), so they have no defaults; the single-use
deposit may not be set below the legal minimum of 25 cents (VerpackG §31(1)).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from deposit.gs1 import GTIN_LENGTHS, has_valid_check_digit
from deposit.protocol import ContainerKind

from .base import Name, Section

LEGAL_MINIMUM_SINGLE_USE_CENTS = 25


class DepositAmounts(Section):
    """Deposit per container kind in cents, as the station pays it out."""

    single_use_cents: int = Field(
        ge=LEGAL_MINIMUM_SINGLE_USE_CENTS, le=9999, description="Einweg (DPG mark); at least 25 by law"
    )
    reusable_cents: int = Field(ge=1, le=9999, description="Mehrweg bottle or jar (commonly 8 or 15)")
    crate_cents: int = Field(ge=1, le=9999, description="crate (commonly 150)")


class DonationConfig(Section):
    """The shopper may give the deposit to this recipient instead of taking a voucher."""

    recipient: str = Field(min_length=1, max_length=80, description="shown on the button, e.g. 'Tafel Musterdorf'")


class DepositConfig(Section):
    """One return machine on a Modbus line shared with the fridge controllers (docs/deposit-machine.md)."""

    line: Name = Field(description="name of the Modbus line in [modbus_lines]")
    unit: int = Field(ge=1, le=247, description="Modbus unit id set on the machine or its adapter")
    poll_s: float = Field(default=0.25, gt=0, le=10, description="status poll interval while a session is open")
    idle_poll_s: float = Field(default=2.0, gt=0, le=300, description="status poll interval between sessions")
    command_timeout_s: float = Field(default=3.0, gt=0, le=60, description="wait for HR 22 to show a command done")
    session_timeout_s: float = Field(
        default=120.0, ge=10, le=3600, description="a session with no new container for this long is closed"
    )
    choice_timeout_s: float = Field(
        default=120.0, ge=10, le=3600, description="no choice after the session for this long: a voucher is printed"
    )
    amounts: DepositAmounts
    gtin_amounts: dict[str, int] = Field(
        default_factory=dict,
        description="per-GTIN deposit in cents where it differs from the kind's (e.g. swing-top bottles)",
    )
    voucher_prefix: int = Field(
        default=29, ge=20, le=29, description="EAN-13 prefix of vouchers (GS1 restricted range, not used by the shop)"
    )
    donation: DonationConfig | None = None

    @field_validator("gtin_amounts")
    @classmethod
    def _gtins(cls, value: dict[str, int]) -> dict[str, int]:
        for gtin, cents in value.items():
            if len(gtin) not in GTIN_LENGTHS or not has_valid_check_digit(gtin):
                raise ValueError(f"{gtin!r} is not a GTIN (8, 12, 13 or 14 digits with a valid check digit)")
            if not 1 <= cents <= 9999:
                raise ValueError(f"deposit for {gtin} must be 1-9999 cents, not {cents}")
        return value

    def amount_cents(self, kind: ContainerKind, gtin: int) -> int:
        """What the station pays per container: the GTIN's amount, else the kind's; never below the legal minimum."""
        by_kind = {
            ContainerKind.SINGLE_USE: self.amounts.single_use_cents,
            ContainerKind.REUSABLE: self.amounts.reusable_cents,
            ContainerKind.CRATE: self.amounts.crate_cents,
        }[kind]
        override = next((cents for text, cents in self.gtin_amounts.items() if int(text) == gtin), None)
        amount = by_kind if override is None else override
        if kind is ContainerKind.SINGLE_USE:
            amount = max(amount, LEGAL_MINIMUM_SINGLE_USE_CENTS)
        return amount
