"""The UI's server side without a browser: panel config, compartment states, status."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from station.coldchain.transitions import block
from station.compartments import load, owner
from station.config import CompartmentConfig
from station.config.ui import UiConfig
from station.db.models import Product
from station.db.types import utcnow
from station.ui.events import current_status
from station.ui.shelf import shelf


def test_ui_config_turns_the_panel_into_pixels_per_millimetre() -> None:
    config = UiConfig()
    assert round(config.px_per_mm, 2) == 4.03  # 21.5" full HD
    assert round(16 * config.px_per_mm) == 64  # a 16 mm target is 64 px there
    assert UiConfig(panel_width_mm=344.2, panel_height_mm=193.6).px_per_mm > 5.5  # 15.6" full HD


@pytest.mark.parametrize(
    "bad",
    [{"target_mm": 12}, {"idle_warning_s": 10}, {"panel_width_mm": 476.6, "panel_height_mm": 350}, {"colour": "red"}],
)
def test_ui_config_refuses_what_breaks_the_rules(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        UiConfig(**bad)


def _wall(session: Any) -> None:
    now = utcnow()
    owner.sync_configured(session, [CompartmentConfig(id=n, bus="a", board=0, lock=n) for n in range(1, 10)])
    session.add(Product(gtin="4000000000001", name="Brot", price_cents=300, updated_at=now))
    session.add(Product(gtin="4000000000002", name="Alt", price_cents=300, updated_at=now))
    session.flush()
    for number in (1, 3, 4, 5, 6, 9):
        load(session, number, "4000000000001", 1, actor="t", best_before=date(2030, 1, 1))
    load(session, 7, "4000000000002", 1, actor="t")
    session.scalar(select(Product).where(Product.gtin == "4000000000002")).active = False  # taken off the list
    owner.reserve_for_sale(session, 3, "sale-1")
    owner.hold(session, 4, "operator", actor="t", reason="Tür klemmt")
    owner.needs_check(session, 5, "door seen open without a command")
    owner.open_for_volunteer(session, 8, "t", "restock")
    block(session, 9, "chilled", 7.0, {"cause": "temperature"}, now)


def test_every_door_gets_a_state_the_shopper_understands(db: Any) -> None:
    db.run_sync(_wall)
    states = {c.compartment: c.state for c in db.run_sync(lambda s: shelf(s, range(1, 11), unreachable=[6]))}
    assert states == {
        1: "for_sale",
        2: "sold_out",
        3: "reserved",
        4: "blocked",  # an operator's hold
        5: "needs_check",  # contents unknown: a volunteer checks
        6: "unavailable",  # its board does not answer
        7: "needs_check",  # loaded, but no longer offered
        8: "occupied",  # open for a volunteer
        9: "blocked",  # cold chain
    }


def _station(*, sync_connected: bool | None, terminal: str | None) -> Any:
    health = lambda status, **detail: SimpleNamespace(health=lambda: SimpleNamespace(status=status, detail=detail))  # noqa: E731
    return SimpleNamespace(
        config=SimpleNamespace(station=SimpleNamespace(id="s-1", name="Dorfladen")),
        simulated=False,
        sync=None if sync_connected is None else health("up", connected=sync_connected),
        terminal=None if terminal is None else health(terminal),
        purchases=object() if terminal is not None else None,
        lockwall=health("up", open_doors=[3], unavailable_compartments=[9]),
    )


def test_status_says_offline_only_when_the_platform_link_is_down() -> None:
    assert current_status(_station(sync_connected=False, terminal="up")).offline is True
    assert current_status(_station(sync_connected=True, terminal="up")).offline is False
    assert current_status(_station(sync_connected=None, terminal="up")).offline is False  # no platform at all
    assert current_status(_station(sync_connected=True, terminal="down")).card_payment is False
    assert current_status(_station(sync_connected=True, terminal=None)).card_payment is False
    status = current_status(_station(sync_connected=True, terminal="degraded"))
    assert (status.card_payment, status.open_doors, status.unavailable_compartments) == (True, [3], [9])
