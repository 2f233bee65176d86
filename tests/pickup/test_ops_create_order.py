"""`station ops send create-order` builds the params the station's contract accepts, credentials included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from station.cli import build_parser
from station.cli.ops import action_params
from sync.params import CreateOrder

BASE = ["ops", "send", "--key", "op.key", "--station", "demo-01", "create-order", "--external-id", "W-1"]


def test_the_operator_can_announce_an_order_with_its_code_size_and_validity() -> None:
    args = build_parser().parse_args(
        [*BASE, "--size", "M", "--pickup-code", "4711080815", "--card-uid", "04A1B2C3D4E5F6", "--valid-hours", "48"]
    )
    action, params = action_params(args)
    assert action == "create_order"
    order = CreateOrder.model_validate(params)
    credentials = (order.pickup_code, order.card_uid, order.qr_token)
    assert order.size == "M" and credentials == ("4711080815", "04A1B2C3D4E5F6", None)
    assert order.expires_at is not None
    assert abs(order.expires_at - (datetime.now(UTC) + timedelta(hours=48))) < timedelta(minutes=1)


def test_without_the_options_nothing_extra_is_sent() -> None:
    _action, params = action_params(build_parser().parse_args(BASE))
    assert params == {"external_id": "W-1", "kind": "order", "compartment_id": None, "amount_due_cents": 0}


def test_a_code_too_short_for_the_contract_does_not_validate() -> None:
    _action, params = action_params(build_parser().parse_args([*BASE, "--pickup-code", "123"]))
    with pytest.raises(ValidationError):
        CreateOrder.model_validate(params)
