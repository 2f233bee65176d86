"""Tasks: what needs a person at the station now, computed from the current state, never stored.

A task closes when the thing is done (the goods are removed, the compartment checked, the door
shut, the alarm cleared), not when someone clicks it away: there is no "done" flag to forget.
Each task says where, what, since when and what to do (German, for the volunteers' screen) and
carries a machine code for the platform and the UI.

Sources (each a function `(session, context) -> tasks`): goods past or near their dates,
compartments that need a check, cold-chain blocks waiting for a corrective action, open alarms
(doors left open, forced doors, fridges, the card terminal, locked log-ins), devices that are down.
Other features add theirs with `register_source` (the pick-up work adds uncollected orders).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, or_, select
from sqlalchemy.orm import Session

from .clock import start_of_day
from .compartments.contents import date_state
from .compartments.flow import Slot
from .db.haccp_models import ColdChainBlock
from .db.models import Alarm, Compartment, CompartmentContent, Order, Product

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Task:
    code: str  # machine code, e.g. "goods.use_by_reached"
    subject: str  # machine: "compartment:12", "zone:chilled", "device:terminal"
    where: str  # German: "Fach 12"
    what: str  # German: what is wrong
    todo: str  # German: what to do
    since: datetime
    severity: str = "warning"  # info | warning | critical
    compartment: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = self.since.isoformat()
        return out


@dataclass(frozen=True)
class DeviceState:
    name: str  # the component name: lockwall, coldchain, terminal, nfc, ...
    status: str  # up | degraded | down
    since: datetime | None = None


@dataclass(frozen=True)
class TaskContext:
    now: datetime
    today: date
    tz: ZoneInfo
    warning_days: int = 1
    devices: Sequence[DeviceState] = field(default_factory=tuple)


TaskSource = Callable[[Session, TaskContext], Iterable[Task]]
_SOURCES: list[TaskSource] = []


def register_source(source: TaskSource) -> TaskSource:
    """Add a source of tasks (usable as a decorator); each is asked on every read."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def open_tasks(session: Session, context: TaskContext) -> list[Task]:
    """Every task of every source, the most urgent first, then the oldest."""
    found = [task for source in _SOURCES for task in source(session, context)]
    return sorted(found, key=lambda t: (SEVERITY_ORDER.get(t.severity, 9), t.since, t.subject, t.code))


def _fach(compartment: int) -> str:
    return f"Fach {compartment}"


def _date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


# -- goods and their dates ------------------------------------------------------------------------------
@register_source
def goods_tasks(session: Session, ctx: TaskContext) -> Iterable[Task]:
    """Per compartment holding goods: the most urgent of use-by reached, best-before passed, marked down, soon."""
    rows = session.execute(_GOODS, {"soon": ctx.today + timedelta(days=ctx.warning_days)}).all()
    worst: dict[int, Task] = {}
    for comp, status, use_by, best_before, name, reduced, reduced_days in rows:
        if status == Slot.RESTOCKING.value:
            continue  # someone is at it right now
        task = _goods_task(comp, use_by, best_before, _Goods(name, reduced, reduced_days), ctx)
        if task is not None and (comp not in worst or _rank(task) < _rank(worst[comp])):
            worst[comp] = task
    return worst.values()


# The statements are built once: the volunteer's screen polls the task list. Plain columns, no ORM objects.
# Only goods dated up to `soon` (today + the warning days) can make a task: every goods task needs a use-by
# or best-before date on or before it, so the database leaves out the rest and no row is made for them.
_SOON = bindparam("soon", type_=Date)
_GOODS = (
    select(Compartment.id, Compartment.status, CompartmentContent.use_by, CompartmentContent.best_before,
           Product.name, Product.past_best_before_price_cents, Product.past_best_before_days)
    .join(CompartmentContent, CompartmentContent.compartment_id == Compartment.id)
    .join(Product, Product.id == CompartmentContent.product_id)
    .where(CompartmentContent.quantity > 0,
           or_(CompartmentContent.use_by <= _SOON, CompartmentContent.best_before <= _SOON))
    .order_by(Compartment.id, CompartmentContent.id)
)  # fmt: skip
_GOODS_RANK = {"goods.use_by_reached": 0, "goods.best_before_passed": 1, "goods.marked_down": 2,
               "goods.use_by_soon": 3, "goods.best_before_soon": 4}  # fmt: skip


def _rank(task: Task) -> int:
    return _GOODS_RANK.get(task.code, 9)


@dataclass(frozen=True)
class _Goods:
    """The product columns a goods task needs."""

    name: str
    past_best_before_price_cents: int | None
    past_best_before_days: int


def _goods_task(comp: int, use_by: date | None, best_before: date | None, product: _Goods,
                ctx: TaskContext) -> Task | None:
    where, name, soon = _fach(comp), product.name, ctx.today + timedelta(days=ctx.warning_days)
    subject = f"compartment:{comp}"
    state = date_state(use_by, best_before, ctx.today, product)
    if use_by is not None and use_by <= ctx.today:
        return Task("goods.use_by_reached", subject, where, f"{name}: Verbrauchsdatum {_date(use_by)} erreicht – "
                    "nicht mehr im Verkauf", "Ware entnehmen und entsorgen (Grund: abgelaufen)",
                    start_of_day(use_by, ctx.tz), "critical", comp)  # fmt: skip
    if best_before is not None and best_before < ctx.today and state == "off_sale":
        return Task("goods.best_before_passed", subject, where, f"{name}: MHD {_date(best_before)} überschritten – "
                    "nicht mehr im Verkauf", "Ware prüfen und entnehmen (Grund: abgelaufen)",
                    start_of_day(best_before + timedelta(days=1), ctx.tz), "warning", comp)  # fmt: skip
    if state == "marked_down" and best_before is not None:
        last = best_before + timedelta(days=product.past_best_before_days)
        return Task("goods.marked_down", subject, where, f"{name}: über dem MHD, reduziert im Verkauf bis "
                    f"{_date(last)}", f"Bis {_date(last)} nicht verkauft: entnehmen",
                    start_of_day(best_before + timedelta(days=1), ctx.tz), "info", comp)  # fmt: skip
    if use_by is not None and use_by <= soon:
        return Task("goods.use_by_soon", subject, where, f"{name}: Verbrauchsdatum {_date(use_by)} – ab diesem Tag "
                    "nicht mehr im Verkauf", "Am Vorabend entnehmen, wenn nicht verkauft",
                    start_of_day(use_by - timedelta(days=ctx.warning_days), ctx.tz), "info", comp)  # fmt: skip
    if best_before is not None and best_before <= soon:
        return Task("goods.best_before_soon", subject, where, f"{name}: Mindesthaltbarkeitsdatum {_date(best_before)}",
                    "Nach diesem Tag prüfen und entnehmen, wenn nicht verkauft",
                    start_of_day(best_before - timedelta(days=ctx.warning_days), ctx.tz), "info", comp)  # fmt: skip
    return None


# -- compartments that need a person ----------------------------------------------------------------------
NEEDS_CHECK_WHY = [  # (start of the recorded reason, German)
    ("restart between opening for a volunteer", "Auffüllen wurde durch einen Neustart unterbrochen – Inhalt unbekannt"),
    ("restocking not finished", "Auffüllen wurde nicht abgeschlossen (Abmeldung) – Inhalt nicht bestätigt"),
    ("door opened without an unlock command", "Tür wurde ohne Freigabe geöffnet – Inhalt unbekannt"),
    ("door pulsed for restocking", "Tür hat sich beim Auffüllen vielleicht geöffnet – Inhalt unbekannt"),
    ("door pulsed, opening not seen", "Tür hat sich beim Kauf vielleicht geöffnet – Inhalt unbekannt"),
    ("door may have opened unseen", "Tür hat sich vielleicht unbemerkt geöffnet – Inhalt unbekannt"),
    ("restart during a pick-up", "Abholung wurde durch einen Neustart unterbrochen – Inhalt unbekannt"),
    ("door pulsed for a pick-up", "Tür hat sich bei einer Abholung vielleicht nicht geöffnet – Inhalt prüfen"),
    ("back in service", "Fach ist wieder in Betrieb – Inhalt unbekannt"),
]


def needs_check_text(why: str | None) -> str:
    for start, text in NEEDS_CHECK_WHY:
        if why and why.startswith(start):
            return text
    return "Inhalt des Fachs unbekannt"


_NEEDS_CHECK_ALARMS = select(Alarm).where(Alarm.kind == "compartment.needs_check", Alarm.state == "raised")
_NEEDS_CHECK = select(Compartment).where(Compartment.status == Slot.NEEDS_CHECK.value)


@register_source
def needs_check_tasks(session: Session, ctx: TaskContext) -> Iterable[Task]:
    alarms = {a.subject: a for a in session.scalars(_NEEDS_CHECK_ALARMS)}
    for comp in session.scalars(_NEEDS_CHECK):
        alarm = alarms.get(f"compartment:{comp.id}")
        why = alarm.details.get("why") if alarm is not None else None
        since = alarm.raised_at if alarm is not None else comp.updated_at
        yield Task("compartment.needs_check", f"compartment:{comp.id}", _fach(comp.id), needs_check_text(why),
                   "Fach öffnen (Auffüllen), Inhalt prüfen und erfassen, dann abschließen", since, "warning", comp.id)


_EXPIRED_ORDERS = select(Order).where(Order.state == "expired").order_by(Order.id)


@register_source
def expired_order_tasks(session: Session, ctx: TaskContext) -> Iterable[Task]:
    """Orders and parcels not collected in time: a volunteer takes them out (they go back)."""
    for order in session.scalars(_EXPIRED_ORDERS):
        comp = order.compartment_id
        what = "Paket" if order.kind == "parcel" else "Bestellung"
        until = ""
        if order.expires_at is not None:
            until = f" (abholbar bis {order.expires_at.astimezone(ctx.tz).strftime('%d.%m.%Y %H:%M')})"
        yield Task("order.expired", f"order:{order.external_id}", _fach(comp) if comp else "Abholung",
                   f"{what} {order.external_id} wurde nicht abgeholt{until}",
                   "Fach öffnen (Zurücknehmen) und die Sendung herausnehmen: sie geht zurück",
                   order.updated_at or order.expires_at or ctx.now, "warning", comp)


_BLOCKED = select(ColdChainBlock).where(ColdChainBlock.state == "blocked")


@register_source
def cold_chain_tasks(session: Session, ctx: TaskContext) -> Iterable[Task]:
    for blk in session.scalars(_BLOCKED):
        yield Task("coldchain.corrective_action", f"compartment:{blk.compartment_id}", _fach(blk.compartment_id),
                   f"Kühlung gestört – Fach gesperrt (Grenzwert {blk.limit_c:g} °C, Zone {blk.zone})",
                   "Ware prüfen: entsorgen, oder Temperatur der Ware messen und mit Begründung behalten "
                   "(Korrekturmaßnahme erfassen)", blk.blocked_at, "critical", blk.compartment_id)  # fmt: skip


# -- alarms and devices ----------------------------------------------------------------------------------------
COVERED = {"compartment.needs_check", "coldchain.excursion"}  # tasks of their own above
ALARM_TEXTS = {  # kind -> (what, what to do)
    "door.left_open": ("Tür steht offen", "Tür schließen"),
    "door.tamper": ("Tür wurde ohne Freigabe geöffnet", "Fach prüfen und Tür schließen"),
    "door.open_not_detected": ("Tür ließ sich nicht öffnen", "Schloss und Tür prüfen"),
    "coldchain.zone_excursion": ("Temperatur außerhalb des Grenzwerts", "Kühlgerät prüfen: Tür zu? Abtauung? Störung?"),
    "payment.reconciliation_mismatch": ("Tagesabschluss passt nicht zu den Buchungen", "Betreiber informieren"),
    "staff.locked": ("Anmeldung nach zu vielen Fehlversuchen gesperrt", "Betreiber hebt die Sperre auf"),
    "pickup.locked": ("Eingabe von Abholcodes nach zu vielen falschen Codes gesperrt",
                      "Betreiber hebt die Sperre auf (QR-Code und Kundenkarte gehen weiter)"),
}
DEVICE_NAMES = {"lockwall": "Schließfachwand", "coldchain": "Kühlung", "terminal": "Kartenterminal",
                "nfc": "Ausweisleser", "printer": "Bondrucker", "deposit": "Pfandautomat", "sync": "Verbindung"}


def _where(subject: str) -> str:
    kind, _, name = subject.partition(":")
    if kind == "compartment":
        return f"Fach {name}"
    if kind == "zone":
        return f"Kühlzone {name}"
    if kind in ("keypad", "pin", "reader", "badge"):
        return "Anmeldung"
    if kind.startswith("pickup"):
        return "Abholung"
    return DEVICE_NAMES.get(kind, subject)


_RAISED = select(Alarm).where(Alarm.state == "raised").order_by(Alarm.id)


@register_source
def alarm_tasks(session: Session, ctx: TaskContext) -> Iterable[Task]:
    for alarm in session.scalars(_RAISED):
        if alarm.kind in COVERED:
            continue
        what, todo = ALARM_TEXTS.get(alarm.kind, (f"Störung ({alarm.kind})", "Betreiber informieren"))
        comp = int(alarm.subject.split(":")[1]) if alarm.subject.startswith("compartment:") else None
        yield Task(alarm.kind, alarm.subject, _where(alarm.subject), what, todo, alarm.raised_at,
                   "critical" if alarm.severity == "critical" else "warning", comp)  # fmt: skip


@register_source
def device_tasks(_session: Session, ctx: TaskContext) -> Iterable[Task]:
    for device in ctx.devices:
        if device.status == "down":
            where = DEVICE_NAMES.get(device.name, device.name)
            yield Task("device.down", f"device:{device.name}", where, f"{where} antwortet nicht",
                       "Strom und Kabel prüfen; hilft das nicht, Betreiber informieren", device.since or ctx.now,
                       "critical")  # fmt: skip
