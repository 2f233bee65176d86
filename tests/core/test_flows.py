"""Every flow on the engine is held to its table: arrows outside it are refused and change nothing;
every non-final state has a recovery action; the generated documentation is current.

The restart itself is exercised per flow by the tests that kill or restart the real thing:
tests/purchase/test_crash.py (every purchase state), tests/killloop/ (the whole daemon),
tests/lockwall/test_doors.py (door operations), tests/coldchain/test_corrective.py (blocks), and
`test_compartment_orphans_are_put_to_rest_at_start` below.
"""

from __future__ import annotations

import enum
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from deposit.voucher import build_code
from station.compartments import owner
from station.compartments.flow import COMPARTMENT, Slot
from station.compartments.recovery import CompartmentRecovery
from station.db.engine import Database
from station.db.haccp_models import ColdChainBlock
from station.db.models import (
    AppRefund,
    AuditEntry,
    Compartment,
    DepositReturn,
    DoorOperation,
    Order,
    OutboxEvent,
    Sale,
    Volunteer,
    Voucher,
)
from station.db.returns_models import PrintJob, Receipt
from station.db.staff_models import RestockSession, VolunteerSession
from station.db.types import utcnow
from station.flows import docs
from station.flows.engine import Arrow, Flow, InvalidTransition, check_recovery, transition
from station.flows.registry import all_flows
from station.purchase.apprequest import REFUND_REQUEST, RequestSigner
from tests.conftest import REPO

FLOWS = {flow.name: flow for flow in all_flows()}


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One migrated database for the many refusal cases (each inserts its own row)."""
    from station.db import migrate

    path = tmp_path_factory.mktemp("flows") / "station.db"
    migrate.upgrade(path)
    database = Database(path)
    database.open_sync()
    yield database
    database.close_sync()


def _row(session: Any, flow: Flow[Any], state: enum.StrEnum) -> Any:
    """Insert one row of the flow's table in `state`; returns its key."""
    now = utcnow()
    if session.get(Compartment, 1) is None:
        session.execute(insert(Compartment).values(id=1, bus="w", board=0, lock=1, status="empty", updated_at=now))
    name = flow.name
    if name == "sale":
        key = str(uuid.uuid4())
        session.execute(insert(Sale).values(id=key, state=state.value, total_cents=100, booked_cents=0,
                                            created_at=now, updated_at=now))
        return key
    if name == "door":
        return session.execute(insert(DoorOperation).values(compartment_id=1, reason="sale", state=state.value,
                                                            attempts=0, created_at=now, updated_at=now)
                               .returning(DoorOperation.id)).scalar_one()
    if name == "compartment":
        key = 100 + len(list(session.scalars(select(Compartment.id))))
        session.execute(insert(Compartment).values(id=key, bus="w", board=0, lock=key % 16 + 1, status=state.value,
                                                   updated_at=now))
        return key
    if name == "coldchain_block":
        block = insert(ColdChainBlock).values(compartment_id=1, state=state.value, zone="z", cause="temperature",
                                              limit_c=7.0, blocked_at=now, details={})
        return session.execute(block.returning(ColdChainBlock.id)).scalar_one()
    if name == "order":
        order = insert(Order).values(external_id=str(uuid.uuid4()), kind="order", state=state.value,
                                     created_at=now, details={})
        return session.execute(order.returning(Order.id)).scalar_one()
    if name == "deposit_return":
        key = str(uuid.uuid4())
        session.execute(insert(DepositReturn).values(id=key, state=state.value, total_cents=0, count=0,
                                                     machine_cents=0, items={}, created_at=now, updated_at=now))
        return key
    if name == "voucher":
        key = str(uuid.uuid4())
        serial = uuid.UUID(key).int % 1_000_000
        session.execute(insert(Voucher).values(id=key, serial=f"{serial:06d}", code=build_code(29, serial, 100),
                                               amount_cents=100, state=state.value, origin="return", medium="paper",
                                               issued_at=now, updated_at=now))
        return key
    if name == "print_job":
        receipt = str(uuid.uuid4().hex[:22])
        session.execute(insert(Receipt).values(id=receipt, kind="test", reference=None, language="de", data={},
                                               created_at=now))
        key = str(uuid.uuid4())
        session.execute(insert(PrintJob).values(id=key, receipt_id=receipt, state=state.value, attempts=0,
                                                created_at=now, updated_at=now))
        return key
    if name in ("restock", "staff_session"):
        person = session.scalar(select(Volunteer.id).limit(1)) or session.execute(
            insert(Volunteer).values(name="Anna", role="volunteer", active=True, created_at=now, created_by="test")
            .returning(Volunteer.id)).scalar_one()
        if name == "restock":
            restock = insert(RestockSession).values(compartment_id=1, volunteer_id=person, actor="volunteer:1",
                                                    purpose="restock", state=state.value, previous_status="empty",
                                                    created_at=now, updated_at=now)
            return session.execute(restock.returning(RestockSession.id)).scalar_one()
        login = insert(VolunteerSession).values(volunteer_id=person, token_hash=uuid.uuid4().hex, state=state.value,
                                                role="volunteer", method="pin", keypad="kiosk", started_at=now,
                                                last_seen_at=now, updated_at=now)
        return session.execute(login.returning(VolunteerSession.id)).scalar_one()
    if name == "app_refund":
        key = str(uuid.uuid4())
        session.execute(insert(AppRefund).values(id=key, payment_id=key, sale_id="s", amount_cents=100, reason="late",
                                                 state=state.value, request=_signed_refund_request(key),
                                                 created_at=now, updated_at=now))
        return key
    raise AssertionError(f"no row factory for flow {name}: add one")


def _signed_refund_request(refund_id: str) -> dict[str, str]:
    """A refund request signed the way `purchase.refunds.request` signs one (the payload schema checks its shape)."""
    body = {"station_id": "test-01", "refund_id": refund_id, "payment_id": refund_id, "sale_id": "s",
            "amount_cents": 100, "currency": "EUR", "reason": "late", "requested_at": "2026-01-01T00:00:00Z"}
    return RequestSigner(bytes(range(32))).sign(REFUND_REQUEST, body)


def _pairs_outside(flow: Flow[Any]) -> list[tuple[enum.StrEnum, enum.StrEnum]]:
    return [(a, b) for a, b in itertools.product(flow.states, repeat=2) if not flow.allows(a, b)]


CASES = [(name, a, b) for name, flow in FLOWS.items() for a, b in _pairs_outside(flow)]


def test_every_flow_has_a_row_factory_and_arrows_outside_its_table(db: Database) -> None:
    assert sorted(FLOWS) == ["app_refund", "coldchain_block", "compartment", "deposit_return", "door", "order",
                            "print_job", "restock", "sale", "staff_session", "voucher"]
    assert {name for name, _a, _b in CASES} == set(FLOWS)  # every flow refuses something


@pytest.mark.parametrize(("name", "source", "target"), CASES, ids=[f"{n}:{a}->{b}" for n, a, b in CASES])
def test_an_arrow_outside_the_table_is_refused_and_writes_nothing(shared_db: Database, name: str, source: Any,
                                                                  target: Any) -> None:
    db, flow = shared_db, FLOWS[name]
    key = db.run_sync(lambda s: _row(s, flow, source))
    counts = db.run_sync(lambda s: (s.scalar(select(func.count()).select_from(AuditEntry)),
                                    s.scalar(select(func.count()).select_from(OutboxEvent))))
    with pytest.raises(InvalidTransition):
        db.run_sync(lambda s: transition(s, flow, key, target))
    assert db.run_sync(lambda s: flow.current(s, key)) == source
    assert db.run_sync(lambda s: (s.scalar(select(func.count()).select_from(AuditEntry)),
                                  s.scalar(select(func.count()).select_from(OutboxEvent)))) == counts


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_an_allowed_arrow_moves_and_writes_its_audit_and_event(db: Database, name: str) -> None:
    flow = FLOWS[name]
    arrow = next(a for a in flow.arrows if a.source is not None and a.event is not None)
    key = db.run_sync(lambda s: _row(s, flow, arrow.source))
    before = db.run_sync(lambda s: s.scalar(select(func.max(OutboxEvent.id))) or 0)
    db.run_sync(lambda s: transition(s, flow, key, arrow.target, actor="volunteer:7"))
    assert db.run_sync(lambda s: flow.current(s, key)) == arrow.target
    events = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.id > before).order_by(OutboxEvent.id))])
    mine = [payload for kind, payload in events if kind == arrow.event]
    assert len(mine) == 1 and mine[0]["actor"] == "volunteer:7" and mine[0]["from"] == arrow.source.value
    audit = db.run_sync(lambda s: s.get_one(AuditEntry, mine[0]["audit_id"]))
    assert (audit.action, audit.actor) == (f"{name}.{arrow.target}", "volunteer:7")
    assert "audit" not in [kind for kind, _ in events]  # told once


def test_a_flow_without_recovery_for_a_state_cannot_be_declared() -> None:
    class S(enum.StrEnum):
        A = "a"
        B = "b"

    with pytest.raises(ValueError, match="no recovery action"):
        Flow("x", Sale.__table__, S, [Arrow(None, S.A, "made"), Arrow(S.A, S.B, "done")],  # type: ignore[arg-type]
             final=frozenset({S.B}), recovery={})
    with pytest.raises(ValueError, match="no arrow into it"):
        Flow("x", Sale.__table__, S, [Arrow(None, S.A, "made")], final=frozenset({S.B}),  # type: ignore[arg-type]
             recovery={S.A: "x"})


def test_every_recovery_handler_covers_every_non_final_state() -> None:
    """The engine refuses a handler that lacks an `on_<state>`; each flow's real handler passes."""
    from station.coldchain.service import ColdChain
    from station.deposit import DepositService
    from station.lockwall.service import LockWall
    from station.pickup import PickupService
    from station.printing import PrintService
    from station.purchase.recovery import PurchaseRecovery
    from station.restock import RestockService
    from station.staff import StaffService
    from station.vouchers import VoucherService

    handlers = {"sale": PurchaseRecovery, "door": LockWall, "coldchain_block": ColdChain,
                "compartment": CompartmentRecovery, "deposit_return": DepositService, "voucher": VoucherService,
                "print_job": PrintService, "restock": RestockService, "staff_session": StaffService,
                "order": PickupService}
    for name, flow in FLOWS.items():
        if not flow.unfinished_states():
            continue
        check_recovery(flow, handlers[name])  # class attributes are enough to check
        with pytest.raises(TypeError, match="has no recovery"):
            check_recovery(flow, object())


async def test_compartment_orphans_are_put_to_rest_at_start(tmp_path: Path, db_path: Path) -> None:
    """Reserved with no purchase, restocking with no volunteer: a restart settles them (and keeps held ones)."""
    database = Database(db_path)
    await database.start()
    try:
        keys = await database.write(lambda s: [_row(s, COMPARTMENT, Slot.RESERVED),
                                               _row(s, COMPARTMENT, Slot.RESTOCKING),
                                               _row(s, COMPARTMENT, Slot.RESERVED)])
        held = keys[2]
        recovery = CompartmentRecovery(database, holders=[lambda _s: {held}])
        await recovery.start()
        await recovery.done.wait()
        states = await database.read(lambda s: [owner.status(s, k) for k in keys])
    finally:
        await database.stop()
    assert states == [Slot.LOADED, Slot.NEEDS_CHECK, Slot.RESERVED]


def test_the_flow_tables_in_the_architecture_document_are_current() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    assert docs.replace_in(text) == text, "run: station flows --update docs/architecture.md"
