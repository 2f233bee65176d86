"""DepositConfig: legal minimum for single-use, voucher prefix range, per-GTIN amounts, unknown keys refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from deposit import ContainerKind
from station.config.deposit import DepositConfig

AMOUNTS = {"single_use_cents": 25, "reusable_cents": 8, "crate_cents": 150}


def _config(**changes: Any) -> DepositConfig:
    return DepositConfig.model_validate({"line": "rs485-1", "unit": 10, "amounts": AMOUNTS, **changes})


def test_defaults() -> None:
    config = _config()
    assert (config.poll_s, config.idle_poll_s, config.voucher_prefix, config.donation) == (0.25, 2.0, 29, None)


def test_single_use_below_the_legal_minimum_is_refused() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 25"):
        _config(amounts={**AMOUNTS, "single_use_cents": 20})


def test_amounts_are_required() -> None:
    with pytest.raises(ValidationError, match="amounts"):
        DepositConfig.model_validate({"line": "rs485-1", "unit": 10})
    with pytest.raises(ValidationError, match="crate_cents"):
        _config(amounts={"single_use_cents": 25, "reusable_cents": 8})


@pytest.mark.parametrize("prefix", [19, 30])
def test_voucher_prefix_outside_20_29_is_refused(prefix: int) -> None:
    with pytest.raises(ValidationError, match="voucher_prefix"):
        _config(voucher_prefix=prefix)


def test_unknown_keys_and_bad_units_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _config(pol_s=1)
    with pytest.raises(ValidationError, match="unit"):
        _config(unit=248)


def test_gtin_amounts_need_real_gtins() -> None:
    with pytest.raises(ValidationError, match="'9520000010011' is not a GTIN"):
        _config(gtin_amounts={"9520000010011": 15})
    with pytest.raises(ValidationError, match="must be 1-9999 cents"):
        _config(gtin_amounts={"9520000010010": 0})


def test_amount_per_container() -> None:
    config = _config(gtin_amounts={"9520000020026": 15, "9520000010010": 10})
    assert config.amount_cents(ContainerKind.REUSABLE, 9520000020019) == 8  # kind's amount
    assert config.amount_cents(ContainerKind.REUSABLE, 9520000020026) == 15  # swing-top override
    assert config.amount_cents(ContainerKind.CRATE, 9520000030018) == 150
    assert config.amount_cents(ContainerKind.SINGLE_USE, 9520000010010) == 25  # never below the legal minimum


def test_donation_option() -> None:
    assert _config(donation={"recipient": "Tafel Musterdorf"}).donation.recipient == "Tafel Musterdorf"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        _config(donation={"recipient": ""})
