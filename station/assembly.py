"""Builds a Station from a validated config: one component per configured feature."""

from __future__ import annotations

import os
from typing import Any

from .cardterminal import CardTerminal
from .clock import Clock
from .coldchain import ColdChain
from .compartments.recovery import CompartmentRecovery
from .config import Config, ConfigError
from .config.overlay import OverlayState, apply_overlay
from .daemon import Station
from .lockwall import LockWall
from .lockwall.remote import RemoteDoors
from .nfcreader import NfcComponent
from .orders.steps import unfinished_compartments as order_compartments
from .pickup import OfflineVerifier, PickupService
from .printing import PrintService, desk_from_config
from .purchase import PurchaseService
from .purchase.age import AgeGate
from .purchase.apprequest import RequestSigner
from .purchase.flow import held_compartments
from .reports import EndOfDayReports
from .restock import RestockService
from .restock.flow import restocked_compartments
from .retention import Retention
from .runtime import Runtime
from .staff import StaffService
from .vouchers import VoucherService


def build_station(
    config: Config,
    *,
    file_config: Config | None = None,
    overlay: OverlayState | None = None,
    clock: Clock | None = None,
    freeze_heap: bool = False,
) -> Station:
    """Construct every component (no I/O happens here); start order is the order added.

    `config` is what runs (the file plus a stored overlay, see `config.overlay.effective_config`);
    `file_config` is the file alone, against which a new overlay from the platform is checked.
    `clock` replaces the wall clock (tests: a `ManualClock`). `freeze_heap`: the daemon process
    (`station run`, `station demo`) hands its start-up heap out of the collector's sight (`runtime`).
    """
    station = Station(config, overlay=overlay, clock=clock)
    base = file_config or config
    nfc = NfcComponent(config.nfc) if config.nfc is not None else None
    if nfc is not None:
        station.add(nfc)
    staff = StaffService(config, station.db, station.clock, nfc=nfc, simulated=station.simulated)
    station.add(staff)
    holders: list[Any] = []
    settled_first: list[Any] = []
    station.receipts = desk_from_config(config)
    if config.lock_buses:
        station.lockwall = LockWall(config, station.db)
        station.add(station.lockwall)
        restock = RestockService(station.db, station.lockwall, staff, station.clock)
        station.add(restock)
        holders.append(restocked_compartments)
        settled_first.append(restock.recovered)
        offline = OfflineVerifier(config.pickup, config.station.id) if config.pickup.platform_keys else None
        pickup = PickupService(station.db, station.lockwall, staff, station.clock, offline=offline,
                               receipts=station.receipts, print_receipts=config.printer is not None)
        station.add(pickup)
        holders.append(order_compartments)
        settled_first.append(pickup.recovered)
    if config.printer is not None:
        station.printing = PrintService(config.printer, station.db, station.receipts)
        station.add(station.printing)
    if config.deposit is not None or config.payment is not None:
        station.vouchers = VoucherService(station.db, station.receipts, station.printing)
        station.add(station.vouchers)
    shared_lines = {}
    if config.deposit is not None:  # built before the cold chain, which uses the same line (and stops first)
        from drivers.modbus import LineSettings, ModbusLine

        from .deposit import DepositService

        name = config.deposit.line
        shared_lines[name] = ModbusLine(name, LineSettings(**config.modbus_lines[name].model_dump()))
        station.deposit = DepositService(config.deposit, station.db, shared_lines[name], desk=station.receipts,
                                         printing=station.printing, owns_line=True)
        station.add(station.deposit)
    if config.fridges:
        station.coldchain = ColdChain(config, station.db, lines=shared_lines)
        station.add(station.coldchain)
    if config.payment is not None:
        station.terminal = CardTerminal(config.payment, station.db, timezone=config.station.timezone)
        station.add(station.terminal)
    if station.terminal is not None and station.lockwall is not None:
        app = config.app_payment
        station.purchases = PurchaseService(station.db, station.terminal, station.lockwall, vouchers=station.vouchers,
                                            receipts=station.receipts, printing=station.printing,
                                            today=station.clock.today, station_id=config.station.id,
                                            signer=RequestSigner.from_secret(staff.secret) if app.enabled else None,
                                            age=AgeGate(staff.secret, tap_valid_s=app.age_card_tap_valid_s))
        station.purchases.app.request_ttl_s = app.request_ttl_s
        if nfc is not None:
            nfc.subscribe(station.purchases.age.on_tap)
        station.add(station.purchases)
        holders.append(held_compartments)
        settled_first.append(station.purchases.recovery.finished)
    if station.lockwall is not None:
        station.add(CompartmentRecovery(station.db, holders, settled_first))
    delivered_days = config.mqtt.delivered_retention_days if config.mqtt is not None else None
    station.add(Retention(config.retention, station.db, delivered_days=delivered_days))
    station.add(EndOfDayReports(config, station.db, station.clock, devices=lambda: station.device_status()["devices"]))
    if config.mqtt is not None:
        from sync.component import SyncComponent  # only stations that sync load paho

        station.sync = SyncComponent(
            config.mqtt,
            config.station.id,
            station.db,
            status_provider=station.device_status,
            door_opener=RemoteDoors(station.lockwall) if station.lockwall is not None else None,
            cold_chain_release=station.coldchain.operator_release if station.coldchain is not None else None,
            staff=staff,
            purchases=station.purchases,
            config_hash=config_hash(config),
            validate_overlay=lambda candidate: check_overlay(base, candidate),
        )
        station.add(station.sync)
        if station.purchases is not None:  # the app's confirmation comes over this link: no link, no app payment
            sync = station.sync
            station.purchases.app.uplink = lambda: sync.connection is not None
    station.add(Runtime(freeze=freeze_heap))  # the last one started: the heap it freezes is the whole start-up
    return station


def daemon_freezes_heap() -> bool:
    """The daemon freezes its start-up heap unless STATION_GC_FREEZE=0 (to measure the difference:
    bench/bench_history.py --gc-compare)."""
    return os.environ.get("STATION_GC_FREEZE", "1") != "0"


def check_overlay(file_config: Config, overlay: dict[str, Any]) -> None:
    """Raise ValueError (what the command handler answers with) if `overlay` does not fit the file."""
    try:
        apply_overlay(file_config, overlay)
    except ConfigError as exc:
        raise ValueError("; ".join(exc.problems)) from None


def config_hash(config: Config) -> str:
    """SHA-256 of the validated config (the birth message tells the platform which config runs)."""
    import hashlib

    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()
