"""The demo station: start a simulator for every configured device, then the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.tasks import cancel_tasks

from .assembly import build_station, daemon_freezes_heap
from .compartments.contents import load as load_compartment
from .compartments.owner import sync_configured as sync_compartments
from .config import Config, SimulationConfig
from .config.overlay import effective_config
from .db import migrate
from .db.engine import Database
from .db.models import Product
from .db.types import utcnow

log = logging.getLogger(__name__)

DEMO_ISSUER = "demo-ops"


def _local_tcp_port(url: str, device: str) -> int:
    """Simulators listen where the config points: socket://127.0.0.1:PORT only."""
    parts = urlsplit(url)
    if parts.scheme != "socket" or parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
        raise ValueError(f'{device}: a simulated device needs port = "socket://127.0.0.1:PORT", not {url!r}')
    return parts.port


@dataclass
class Devices:
    """The running simulators, for whoever wants to watch or steer them (the physical record, tests)."""

    lock_buses: dict[str, Any] = field(default_factory=dict)  # bus name -> LockBusSimulator
    terminal: Any = None  # ZvtSimulator
    extra: dict[str, Any] = field(default_factory=dict)  # other simulators by name


@contextlib.asynccontextmanager
async def simulated_devices(config: Config) -> AsyncIterator[Devices]:
    """Start the simulators the config's devices point at; stop them afterwards."""
    from simulators.locks import LockBusSimulator
    from simulators.locks.board import SimBoard
    from simulators.zvt import SimConfig, ZvtSimulator

    sim_cfg = config.simulation or SimulationConfig()
    seed = sim_cfg.seed
    devices = Devices()
    async with contextlib.AsyncExitStack() as stack:
        for name, bus in config.lock_buses.items():
            port = _local_tcp_port(bus.port, f"lock_buses.{name}")
            lock_count = 16 if bus.protocol == "cu16" else 48
            boards = [
                SimBoard(b.address, lock_count, hook_locked_bit=b.hook_locked_bit, item_sensors=b.item_sensors,
                         open_delay_s=sim_cfg.door_open_delay_s, close_after_s=sim_cfg.door_close_after_s)
                for b in bus.boards
            ]
            for board in boards:  # a simulated station starts stocked: item sensors see goods in every compartment
                for lock in board.locks.values():
                    lock.item_present = board.item_sensors
            sim = LockBusSimulator(bus.protocol, boards, dialect=bus.dialect, seed=seed)
            await sim.start_tcp("127.0.0.1", port)
            stack.push_async_callback(sim.stop)
            devices.lock_buses[name] = sim
            log.info("simulated %s lock bus %s on socket://127.0.0.1:%d", bus.protocol, name, port)
        for name, line in config.modbus_lines.items():
            port = _local_tcp_port(line.port or "", f"modbus_lines.{name}")
            if config.deposit is not None and config.deposit.line == name:
                devices.extra["deposit"] = await _start_deposit_line(stack, config, name, port, sim_cfg)
            else:
                await _start_fridges(stack, config, name, port, seed)
        if config.printer is not None:
            from simulators.printer import PrinterSimulator

            port = _local_tcp_port(config.printer.port, "printer")
            printer = PrinterSimulator(seed=seed)
            await printer.start_tcp("127.0.0.1", port)
            stack.push_async_callback(printer.stop)
            devices.extra["printer"] = printer
            log.info("simulated receipt printer on socket://127.0.0.1:%d", port)
        if config.nfc is not None:
            devices.extra["nfc"] = _start_nfc_field(stack, config.nfc.device, seed)
        if config.payment is not None:
            port = _local_tcp_port(config.payment.port.replace("tcp://", "socket://"), "payment")
            terminal = ZvtSimulator(SimConfig(seed=seed))
            await terminal.start_tcp("127.0.0.1", port)
            stack.push_async_callback(terminal.stop)
            devices.terminal = terminal
            log.info("simulated card terminal on tcp://127.0.0.1:%d (amounts ending in ,99 are declined)", port)
        yield devices


def _start_nfc_field(stack: contextlib.AsyncExitStack, device: str, seed: int) -> Any:
    """The tag simulator where `[nfc] device = "udp:127.0.0.1:PORT"` points; no card on it at first.

    (A badge log-in on the demo: `POST /api/staff/login/badge` with `uid`, accepted on simulated stations.)
    """
    from simulators.nfc import NfcTagSimulator

    scheme, _, rest = device.partition(":")
    host, _, port = rest.rpartition(":")
    if scheme != "udp" or host not in ("127.0.0.1", "localhost") or not port.isdigit():
        raise ValueError(f'nfc: a simulated reader needs device = "udp:127.0.0.1:PORT", not {device!r}')
    field = NfcTagSimulator(seed=seed)
    field.start("127.0.0.1", int(port))
    stack.callback(field.close)
    log.info("simulated NFC reader field (NTAG213 cards) on udp:127.0.0.1:%s", port)
    return field


async def _start_fridges(stack: contextlib.AsyncExitStack, config: Config, line: str, port: int, seed: int) -> None:
    """One simulated Modbus line with the controllers the config puts on it, on a real-time clock."""
    from drivers.fridge import load_map
    from simulators.fridge import FridgeBusSimulator, ThermalParams

    fridges = [f for f in config.fridges.values() if f.line == line]
    if not fridges:
        return
    units = {
        f.unit: (ThermalParams.freezer() if config.zones[f.zone].temperature_class == "frozen" else ThermalParams())
        for f in fridges
    }
    start = time.monotonic()
    sim = FridgeBusSimulator(load_map(fridges[0].model), units, clock=lambda: time.monotonic() - start, seed=seed)
    await sim.start_tcp("127.0.0.1", port)
    stack.push_async_callback(sim.stop)
    log.info("simulated Modbus line %s with controllers %s on socket://127.0.0.1:%d", line, sorted(units), port)


async def _start_deposit_line(
    stack: contextlib.AsyncExitStack, config: Config, line: str, port: int, sim_cfg: SimulationConfig
) -> Any:
    """The deposit machine and the line's fridge controllers on one simulated line, and a scripted shopper."""
    from drivers.fridge import load_map
    from simulators.deposit import DepositBusSimulator, SimulatedDepositMachine
    from simulators.fridge import ThermalParams

    assert config.deposit is not None
    fridges = [f for f in config.fridges.values() if f.line == line]
    units = {
        f.unit: (ThermalParams.freezer() if config.zones[f.zone].temperature_class == "frozen" else ThermalParams())
        for f in fridges
    }
    machine = SimulatedDepositMachine(config.deposit.unit, seed=sim_cfg.seed)
    start = time.monotonic()
    sim = DepositBusSimulator([machine], fridge_units=units, fridge_map=load_map(fridges[0].model) if fridges else None,
                              clock=lambda: time.monotonic() - start, seed=sim_cfg.seed)
    await sim.start_tcp("127.0.0.1", port)
    stack.push_async_callback(sim.stop)
    if sim_cfg.deposit_containers:
        shopper = asyncio.create_task(_deposit_shopper(machine, sim_cfg), name="demo-deposit-shopper")
        stack.push_async_callback(cancel_tasks, [shopper])
    log.info("simulated Modbus line %s with the deposit machine (unit %d) and controllers %s on "
             "socket://127.0.0.1:%d", line, config.deposit.unit, sorted(units), port)
    return machine


async def _deposit_shopper(machine: Any, sim_cfg: SimulationConfig) -> None:
    """Whenever the station opens a session, a shopper returns a few seeded containers (some are rejected)."""
    import random

    from simulators.deposit import Shopper

    shopper = Shopper(machine, random.Random(sim_cfg.seed))
    served: set[int] = set()
    while True:
        if machine.session_open and machine.session_id not in served:
            served.add(machine.session_id)
            containers = shopper.pick(sim_cfg.deposit_containers, reject_rate=0.1)
            await shopper.feed(containers, pace_s=sim_cfg.deposit_pace_s, transport_s=min(sim_cfg.deposit_pace_s, 0.3))
        await machine.wait_change(1.0)


DEMO_PRODUCTS = [  # gtin, name, price, deposit, temperature class, VAT basis points, minimum age
    ("4006381333931", "Hofmilch 1 l (Glas)", 149, 15, "chilled", 700, None),
    ("4001234567890", "Bauernbrot 750 g", 420, 0, "ambient", 700, None),
    ("4009876543210", "Freilandeier 10 Stück", 399, 0, "ambient", 700, None),
    ("4012345678901", "Blütenhonig 500 g", 690, 0, "ambient", 700, None),
    ("4023456789012", "Apfelsaft naturtrüb 1 l", 250, 25, "ambient", 1900, None),
    # Age-restricted (station/purchase/age.py): a local beer with its bottle deposit, a fruit brandy.
    ("4031234000016", "Dorfbier Helles 0,5 l", 189, 8, "ambient", 1900, 16),
    ("4031234000023", "Obstbrand Zwetschge 0,35 l", 1890, 0, "ambient", 1900, 18),
]


def seed_demo_stock(session: Session, config: Config) -> None:
    """A first-time demo station gets a small regional catalogue and loaded compartments."""
    if session.scalar(select(Product.id).limit(1)) is not None:
        return
    for gtin, name, price, deposit, klass, vat, min_age in DEMO_PRODUCTS:
        session.add(
            Product(
                gtin=gtin,
                name=name,
                price_cents=price,
                deposit_cents=deposit,
                vat_rate_bp=vat,
                temperature_class=klass,
                min_age=min_age,
                updated_at=utcnow(),
            )
        )
    session.flush()
    sync_compartments(session, config.compartments)
    for compartment, (gtin, *_rest) in zip(config.compartments, DEMO_PRODUCTS, strict=False):
        load_compartment(
            session, compartment.id, gtin, 1, best_before=date.today() + timedelta(days=7), actor="demo"
        )


def prepare_database(config: Config) -> None:
    migrate.upgrade(config.database.path)
    db = Database(config.database.path)
    db.open_sync()
    try:
        db.run_sync(lambda s: seed_demo_stock(s, config))
    finally:
        db.close_sync()


async def run_demo(config: Config) -> None:
    log.warning("DEMO STATION on simulated hardware: nothing here moves real doors or money")
    await asyncio.to_thread(prepare_database, config)
    config = await asyncio.to_thread(pin_demo_operator_key, config)
    effective, overlay = await asyncio.to_thread(effective_config, config)
    async with simulated_devices(config), demo_platform(config):
        await build_station(effective, file_config=config, overlay=overlay, freeze_heap=daemon_freezes_heap()).run()


def demo_dir(config: Config) -> Path:
    """Where the demo keeps its broker, platform store and operator key: beside its database."""
    return config.database.path.parent


def pin_demo_operator_key(config: Config) -> Config:
    """The demo's operator key (made at the first start, beside the database) pinned as `demo-ops`.

    Only the demo does this: a real station pins keys in its file, and nothing else can add one.
    """
    if config.mqtt is None:
        return config
    from sync.signing import generate_key, load_private_key, public_key_text, save_private_key

    path = demo_dir(config) / "demo-operator.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_private_key(generate_key(), path)
    keys = {**config.mqtt.operator_keys, DEMO_ISSUER: public_key_text(load_private_key(path))}
    return config.model_copy(update={"mqtt": config.mqtt.model_copy(update={"operator_keys": keys})})


@contextlib.asynccontextmanager
async def demo_platform(config: Config) -> AsyncIterator[None]:
    """A private Mosquitto where [mqtt] points (loopback only) and the reference platform consumer on it."""
    if config.mqtt is None:
        yield
        return
    broker = config.mqtt.brokers[0]
    if broker.host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"mqtt.brokers[0]: the demo starts its broker on 127.0.0.1, not {broker.host!r}")
    from central.consumer import Platform
    from simulators.mqtt.localbroker import Mosquitto, find_mosquitto
    from sync.connector import Endpoint

    if find_mosquitto() is None:
        log.warning("mosquitto is not installed (scripts/setup installs it): the demo runs without its broker")
        yield
        return
    workdir = demo_dir(config)
    mosquitto = await asyncio.to_thread(Mosquitto(workdir / "demo-broker", port=broker.port).start)
    platform = Platform([Endpoint("127.0.0.1", broker.port)], workdir / "demo-platform.db")
    try:
        await platform.start()
        log.info(
            "demo broker on 127.0.0.1:%d with the reference platform consumer; watch it with "
            "`station ops watch --broker 127.0.0.1:%d`, command it with `station ops send --broker 127.0.0.1:%d "
            "--key %s --issuer %s --station %s ...`",
            broker.port, broker.port, broker.port, workdir / "demo-operator.key", DEMO_ISSUER, config.station.id,
        )  # fmt: skip
        yield
    finally:
        await platform.stop()
        await asyncio.to_thread(mosquitto.stop)
