"""ColdChain: polls the fridge controllers, supervises the temperature zones, blocks compartments, keeps the HACCP log.

One `ModbusLine` per configured line (or the shared ones passed in), one `FridgeController` per
fridge, one `FridgePoller` per line and poll interval. Every poll result updates the zone of its
controller; an excursion beyond the delay raises the zone's alarm and blocks every compartment of the
zone holding perishable goods whose own limits are breached. A block is lifted only by
`record_corrective_action` (a volunteer) or `operator_release` (a signed operator command).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from common.tasks import cancel_tasks
from drivers.fridge import FridgeController, FridgePoller, FridgeReading, PollFailure, load_map
from drivers.modbus import LineSettings, ModbusLine

from ..components import ComponentHealth, ProgressMixin, Status
from ..config import Config
from ..config.fridge import HaccpConfig
from ..db.engine import Database
from ..db.models import Priority
from ..db.types import utcnow
from ..flows.engine import recover
from ..outbox import record_event
from . import compaction, haccp, transitions
from .excursion import Level
from .limits import compartment_thresholds
from .samples import sample_entries, telemetry_payload, zone_samples
from .transitions import ColdChainError
from .zones import FridgeState, ZoneDecision, ZoneState, verdict_details

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 3600.0  # compaction check, real time
ANCHOR_EVERY_S = 86_400.0  # head of the HACCP chain to the platform, service-clock time
# Longest a poll cycle may take: 8 controllers x 3 requests x 2 tries x the 0.5 s default timeout is 24 s.
CYCLE_BUDGET_S = 30.0


class ColdChain(ProgressMixin):
    name = "coldchain"

    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        haccp_config: HaccpConfig | None = None,
        lines: Mapping[str, ModbusLine] | None = None,
        clock: Callable[[], float] = time.time,
        run_loops: bool = True,
    ) -> None:
        """`lines`: shared `ModbusLine`s by name (a line may carry other Modbus devices); missing ones are built.

        `clock` drives excursion timing, samples and reading times (tests pass a manual clock);
        `run_loops=False` leaves polling to explicit `poll_once()` calls.
        """
        self.db = db
        self.haccp = haccp_config or getattr(config, "haccp", None) or HaccpConfig()
        self._clock = clock
        self._run_loops = run_loops
        self.lines: dict[str, ModbusLine] = dict(lines or {})
        self._own_lines: list[ModbusLine] = []
        self.fridges: dict[str, FridgeState] = {}
        for name, cfg in config.fridges.items():
            line = self._line(config, cfg.line)
            controller = FridgeController(
                name,
                line,
                cfg.unit,
                load_map(cfg.model),
                probes=cfg.probes,
                product_probe=cfg.product_probe,
                clock=clock,
            )
            self.fridges[name] = FridgeState(name, cfg, controller)
        self.zones = {
            name: ZoneState(name, zone, [f for f in self.fridges.values() if f.config.zone == name])
            for name, zone in config.zones.items()
        }
        groups: dict[tuple[str, float], list[FridgeController]] = {}
        for state in self.fridges.values():
            groups.setdefault((state.config.line, state.config.poll_s), []).append(state.controller)
        self.pollers = [
            FridgePoller(ctrls, poll_s, self._on_result, self._on_result, name=f"{line}@{poll_s:g}s", clock=clock)
            for (line, poll_s), ctrls in groups.items()
        ]
        self._blocked: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._telemetry_slot: int | None = None
        self._last_anchor: float | None = None
        self._due: dict[str, float] = {}  # poller -> monotonic time its next cycle should have ended by

    def _line(self, config: Config, name: str) -> ModbusLine:
        if name not in self.lines:
            line = ModbusLine(name, LineSettings(**config.modbus_lines[name].model_dump()))
            self.lines[name] = line
            self._own_lines.append(line)
        return self.lines[name]

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Recover open blocks, load zone alarms; start polling (a silent controller is a state, not an error)."""
        await recover(await self.db.read(transitions.BLOCK.unfinished), transitions.BLOCK, self)
        blocked, alarmed = await self.db.read(transitions.open_state)
        self._blocked = blocked
        for zone in alarmed:
            if zone in self.zones:
                self.zones[zone].alarmed = True
        for zone, starts in (await self.db.read(transitions.excursion_starts)).items():
            if zone in self.zones:
                self.zones[zone].resume(starts)
                log.info("zone %s: excursions in progress before the restart go on (%s)", zone, sorted(starts))
        if self._run_loops:
            for poller in self.pollers:
                self._tasks.append(asyncio.create_task(self._run(poller), name=f"coldchain-{poller.name}"))
            self._tasks.append(asyncio.create_task(self._housekeeping_loop(), name="coldchain-housekeeping"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_tasks(tasks)
        for line in self._own_lines:
            await line.close()

    async def _run(self, poller: FridgePoller) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self._cycle(poller)
            await asyncio.sleep(max(0.0, started + poller.interval_s - loop.time()))

    async def _cycle(self, poller: FridgePoller) -> None:
        await poller.poll_once()
        if poller is self.pollers[0]:
            for zone in self.zones.values():
                if not zone.fridges:  # nothing polls these; unknown is not OK
                    await self._guarded(self._evaluate(zone))
        self.mark_progress()
        self._due[poller.name] = time.monotonic() + poller.interval_s + CYCLE_BUDGET_S

    def progress(self) -> float | None:
        """Now while every poller loop is on schedule, else the end of the last cycle (a poll interval may
        exceed the watchdog's stall limit, so the time of the last cycle alone would look like a hang)."""
        if self._last_progress is None or not self._tasks:
            return self._last_progress
        now = time.monotonic()
        on_time = len(self._due) == len(self.pollers) and all(now <= due for due in self._due.values())
        return now if on_time else self._last_progress

    async def poll_once(self) -> None:
        """One cycle of every poller (tests and tools; the running service polls on its own)."""
        for poller in self.pollers:
            await self._cycle(poller)

    async def _housekeeping_loop(self) -> None:
        while True:
            await self._guarded(self.housekeeping())
            await asyncio.sleep(HOUSEKEEPING_S)

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:  # the database or a bug must not stop supervision of the other zones
            log.exception("cold chain: step failed")

    # -- poll results ----------------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _on_result(self, result: FridgeReading | PollFailure) -> None:
        fridge = self.fridges[result.fridge]
        fridge.result = result
        if isinstance(result, FridgeReading):
            fridge.last_reading = result
        zone = self.zones[fridge.config.zone]
        zone.note(fridge)
        await self._guarded(self._record(fridge))  # a failed log write must not skip the supervision
        await self._evaluate(zone)

    async def _record(self, fridge: FridgeState) -> None:
        """HACCP samples every `sample_interval_s` per controller; telemetry every `telemetry_interval_s`."""
        now = self._clock()
        entries = []
        slot = int(now // self.haccp.sample_interval_s)
        if slot != fridge.sample_slot:
            entries = sample_entries(fridge, self._now())
        tslot = int(now // self.haccp.telemetry_interval_s)
        telemetry = None
        if tslot != self._telemetry_slot:
            telemetry = telemetry_payload(self.fridges.values(), self.zones.values(), self._now())
        if not entries and telemetry is None:
            return
        expires = utcnow() + timedelta(seconds=self.haccp.telemetry_ttl_s)

        def write(session: Session) -> None:
            haccp.append(session, entries)
            if telemetry is not None:
                record_event(
                    session, "coldchain.temperatures", telemetry, priority=Priority.TELEMETRY, expires_at=expires
                )

        await self.db.write(write)
        if entries:
            fridge.sample_slot = slot
        if telemetry is not None:
            self._telemetry_slot = tslot

    # -- supervision -----------------------------------------------------------------------------
    async def _evaluate(self, zone: ZoneState) -> None:
        signal = zone.make_signal(self._clock())
        if signal is None:
            return
        stocked = await self.db.read(partial(transitions.stocked_compartments, zones=[zone.name]))
        decision = zone.evaluate(signal, stocked, self._blocked)
        if decision.changes:
            await self._apply(zone, decision)
        starts = zone.excursion_starts()
        if starts != zone.saved_starts:  # only when an excursion begins or ends: rare writes
            await self.db.write(partial(transitions.save_excursion_starts, zone=zone.name, starts=starts))
            zone.saved_starts = starts

    async def _apply(self, zone: ZoneState, decision: ZoneDecision) -> None:
        at = self._now()
        signal = zone.signal
        assert signal is not None
        base = {
            "celsius": signal.celsius,
            "unknown": signal.unknown_reason,
            "fridges": [f.name for f in zone.fridges],
        }

        def write(session: Session) -> list[int]:
            if decision.zone_alarm and zone.tracker is not None:
                details = {**base, **verdict_details(zone.tracker.last, zone.thresholds)}
                transitions.zone_alarm(session, zone.name, details, zone_samples(zone, at), at)
            if decision.zone_recovered:
                transitions.zone_recovered(session, zone.name, base, zone_samples(zone, at), at)
            done = []
            for item in decision.blocks:
                details = {**base, **verdict_details(item.verdict, item.thresholds)}
                transitions.block(session, item.compartment, zone.name, item.thresholds.limit_c, details, at)
                done.append(item.compartment)
            return done

        blocked = await self.db.write(write)
        if decision.zone_alarm:
            zone.alarmed = True
            log.warning("zone %s: temperature alarm (%s)", zone.name, signal.unknown_reason or f"{signal.celsius} °C")
        if decision.zone_recovered:
            zone.alarmed = False
            log.info("zone %s: back within its limit", zone.name)
        for compartment in blocked:
            self._blocked.add(compartment)
            zone.forget(compartment)
        if blocked:
            log.warning("zone %s: blocked compartments %s for sale and pick-up", zone.name, blocked)

    async def on_blocked(self, block_id: int) -> None:
        """Recovery of a block: its compartment's hold is asserted again (idempotent); it stays blocked."""
        await self.db.write_until_committed(lambda s: transitions.reassert_hold(s, block_id), what="cold-chain hold")

    # -- corrective actions ----------------------------------------------------------------------
    async def record_corrective_action(
        self,
        compartment: int,
        action: str,
        volunteer: str,
        reason: str | None = None,
        measured_c: float | None = None,
        *,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Release a blocked compartment: `discarded` (contents removed) or `kept` (reason + measured °C).

        `volunteer` is an id (recorded as `volunteer:<id>`) or an actor already naming the role
        (`operator:7`); `name` is the person's name, written into the HACCP log beside it.
        Raises `ColdChainError` when the action cannot be accepted: keeping needs a reason, a measured
        temperature within the compartment's limit, and the zone back within it now.
        """
        if action not in ("discarded", "kept"):
            raise ColdChainError(f"corrective action must be 'discarded' or 'kept', not {action!r}")
        if not volunteer:
            raise ColdChainError("a corrective action needs the volunteer who did it")
        if action == "kept":
            await self._check_keep(compartment, reason, measured_c)
        actor = volunteer if volunteer.startswith(("volunteer:", "operator:", "courier:")) else f"volunteer:{volunteer}"
        return await self._release(compartment, action, actor, reason, measured_c, None, name)

    async def operator_release(self, compartment: int, operator: str, reference: str) -> dict[str, Any]:
        """An operator's override (signed command `reference`): release without a temperature check, audited."""
        if not operator or not reference:
            raise ColdChainError("an operator release needs the operator and the command reference")
        return await self._release(compartment, "operator_release", f"operator:{operator}", None, None, reference)

    async def _release(
        self, compartment: int, how: str, actor: str, reason: str | None, measured: float | None, ref: str | None,
        name: str | None = None,
    ) -> dict[str, Any]:
        at = self._now()
        payload = await self.db.write(
            lambda s: transitions.release(
                s, compartment, how, actor=actor, at=at, reason=reason, measured_c=measured, reference=ref,
                by_name=name,
            )
        )
        self._blocked.discard(compartment)
        for zone in self.zones.values():
            zone.forget(compartment)
        log.info("compartment %s released (%s by %s)", compartment, how, actor)
        return payload

    async def _check_keep(self, compartment: int, reason: str | None, measured_c: float | None) -> None:
        if not reason or not reason.strip():
            raise ColdChainError("keeping the goods needs a reason")
        if measured_c is None:
            raise ColdChainError("keeping the goods needs the measured product temperature")
        zone_name, stocked = await self.db.read(partial(transitions.compartment_goods, compartment=compartment))
        zone = self.zones.get(zone_name or "")
        if zone is None or stocked is None:
            return  # not in a supervised zone or nothing perishable left: nothing to compare with
        thresholds = compartment_thresholds(zone.name, zone.config, set(stocked.classes))
        if thresholds is None:
            return
        if measured_c > thresholds.ceiling_c:
            raise ColdChainError(
                f"measured {measured_c:g} °C is above the limit of {thresholds.ceiling_c:g} °C: discard the goods"
            )
        signal = zone.signal
        if signal is None or signal.celsius is None:
            raise ColdChainError(f"zone {zone.name}: the temperature is unknown now; the goods cannot be kept")
        if signal.celsius > thresholds.ceiling_c:
            raise ColdChainError(
                f"zone {zone.name} is still at {signal.celsius:g} °C, above {thresholds.ceiling_c:g} °C: "
                "fix the fridge first or discard the goods"
            )

    async def is_sale_blocked(self, compartment: int) -> bool:
        """True while a cold-chain block is open (no sale, no pick-up); see `transitions.sale_blocked`."""
        return await self.db.read(partial(transitions.sale_blocked, compartment=compartment))

    # -- housekeeping ----------------------------------------------------------------------------
    async def housekeeping(self) -> compaction.CompactionResult:
        """Compact old samples, prune past retention, and anchor the chain's head at the platform daily."""
        now = self._now()
        anchor = self._last_anchor is None or self._clock() - self._last_anchor >= ANCHOR_EVERY_S

        def work(session: Session) -> compaction.CompactionResult:
            result = compaction.housekeeping(
                session,
                now,
                older_than=timedelta(days=self.haccp.compact_after_days),
                bucket_s=self.haccp.aggregate_s,
                retention=timedelta(days=self.haccp.retention_days),
            )
            if anchor or result.compaction_ids:
                head_id, head_hash = haccp.head(session)
                payload = {"head_id": head_id, "head_hash": head_hash.hex(), "at": now.isoformat()}
                record_event(session, "haccp.anchor", payload, priority=Priority.STOCK)
            return result

        result = await self.db.write(work)
        if anchor:
            self._last_anchor = self._clock()
        if result.replaced or result.pruned:
            log.info("HACCP log: %d samples compacted, %d rows pruned", result.replaced, result.pruned)
        return result

    # -- reporting -------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        controllers: dict[str, Any] = {}
        degraded = False
        for fridge in self.fridges.values():
            snap = fridge.controller.snapshot()
            reading = fridge.last_reading
            controllers[fridge.name] = {
                "line": fridge.config.line,
                "unit": fridge.config.unit,
                "available": snap.available,
                "since": snap.since,
                "error": snap.last_error,
                "celsius": reading.product_celsius if reading else None,
                "read_at": reading.at if reading else None,
                "defrost": reading.defrost_active if reading else None,
            }
            degraded |= snap.available is False
        zones: dict[str, Any] = {}
        for zone in self.zones.values():
            level = zone.tracker.last.level if zone.tracker else None
            zones[zone.name] = {
                "level": level.value if level else "unsupervised",
                "celsius": zone.signal.celsius if zone.signal else None,
                "alarm": zone.alarmed,
            }
            degraded |= zone.alarmed or level is Level.BREACH
        detail = {"controllers": controllers, "zones": zones, "blocked_compartments": sorted(self._blocked)}
        return ComponentHealth(Status.DEGRADED if degraded else Status.UP, detail)
