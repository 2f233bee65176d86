"""A stocked station database without hardware, for the purchase flow's rules (no terminal, no lock bus).

Migrated and stocked once per test session (`template`); each test works on its own copy. A sale is
made the way the purchase service makes it (`station.purchase.cart.create_sale`); its arrows are walked with
`flow.move`, as the service and the recovery do after each step.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from station.compartments.owner import sync_configured
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, Compartment, CompartmentContent, OutboxEvent
from station.purchase.cart import create_sale
from station.purchase.flow import SaleState, mark_lines, move
from tests.helpers.dbcopy import open_copy

MILK = 2 * (149 + 15)  # compartment 1: two bottles of milk with deposit
BREAD = 420  # compartments 2 and 18
EGGS = 399  # compartment 17


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.purchase.conftest import purchase_config_text, seed_catalogue  # (it imports this module)

    path = tmp_path_factory.mktemp("saledb") / "template.db"
    migrate.upgrade(path)
    config = parse_config(purchase_config_text(path, "/dev/null", "tcp://127.0.0.1:1"))
    database = Database(path)
    database.open_sync()
    database.run_sync(lambda s: (sync_configured(s, config.compartments), seed_catalogue(s)))
    database.close_sync()
    return path


@pytest.fixture
def sdb(template: Path, tmp_path: Path) -> Iterator[Database]:
    yield from open_copy(template, tmp_path)


def new_sale(db: Database, compartments: list[int], codes: list[str] | None = None) -> str:
    sale_id = str(uuid.uuid4())
    db.run_sync(lambda s: create_sale(s, sale_id, compartments, codes or []))
    return sale_id


def walk(db: Database, sale_id: str, *states: SaleState, **details: Any) -> None:
    """Move the sale along `states`, one transaction per arrow (as the service commits each step)."""
    for state in states:
        db.run_sync(lambda s, state=state: move(s, sale_id, state, **details))


def opened(db: Database, sale_id: str, outcomes: dict[int, str]) -> None:
    db.run_sync(lambda s: mark_lines(s, sale_id, outcomes))


def events(db: Database, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    rows = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])
    return [(kind, payload) for kind, payload in rows if kind.startswith(prefix)]


def alarms(db: Database, kind: str) -> list[tuple[str, str, str]]:
    """(subject, state, severity) of every alarm of `kind`."""
    return db.run_sync(lambda s: [(a.subject, a.state, a.severity)
                                  for a in s.scalars(select(Alarm).where(Alarm.kind == kind).order_by(Alarm.id))])


def compartment(db: Database, comp: int) -> tuple[str, int]:
    """(status, quantity of goods listed in it)."""
    return db.run_sync(lambda s: (s.get_one(Compartment, comp).status, sum(s.scalars(
        select(CompartmentContent.quantity).where(CompartmentContent.compartment_id == comp)))))
