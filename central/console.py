"""Operator console logic (`station ops ...`): stations and alarms, watching, signed commands, keys.

Every function connects with a clean, short-lived session of its own; commands are published
with QoS 1, never retained, with an MQTT 5 message expiry equal to their lifetime.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.connector import Endpoint
from sync.contract import COMMAND_RESULT, HEARTBEAT, SNAPSHOT, STATE, Topics, decode
from sync.mqttio import ConnectError, ConnectOptions, Incoming, MqttConnection, open_connection
from sync.signing import command_body, sign_command


@dataclass(frozen=True)
class BrokerAccess:
    endpoints: list[Endpoint]
    options: ConnectOptions
    prefix: str = "station"


async def connect(access: BrokerAccess, on_message: Callable[[Incoming], None]) -> MqttConnection:
    """The first broker that answers; ConnectError if none does."""
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ops-connect")
    errors = []
    try:
        for ep in access.endpoints:
            try:
                conn, _ = await open_connection(
                    ep.host, ep.port, ep.protocol, access.options, executor, on_message=on_message
                )
                return conn
            except ConnectError as exc:
                errors.append(str(exc))
    finally:
        executor.shutdown(wait=False)
    raise ConnectError("; ".join(errors))


def next_issuer_seq(state_file: Path) -> int:
    """A strictly growing issuer sequence: max(microseconds since epoch, last + 1), persisted."""
    last = 0
    with contextlib.suppress(FileNotFoundError, ValueError):
        last = int(state_file.read_text().strip())
    seq = max(time.time_ns() // 1000, last + 1)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(f"{seq}\n")
    os.replace(tmp, state_file)
    return seq


async def send_command(
    access: BrokerAccess,
    key: Ed25519PrivateKey,
    *,
    issuer: str,
    issuer_seq: int,
    station_id: str,
    action: str,
    params: dict[str, Any],
    lifetime_s: float = 120.0,
    wait_s: float = 15.0,
    repeat: int = 1,
) -> list[dict[str, Any]]:
    """Sign and publish one command (`repeat` times, same bytes) and collect its results."""
    topics = Topics(access.prefix, station_id)
    body = command_body(
        station_id=station_id,
        action=action,
        params=params,
        issuer=issuer,
        issuer_seq=issuer_seq,
        lifetime_s=lifetime_s,
        cmd_id=str(uuid.uuid4()),
    )
    payload = sign_command(body, key)
    results: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    def on_message(msg: Incoming) -> None:
        with contextlib.suppress(ValueError):
            result = decode(msg.payload)
            if result.get("cmd_id") == body["cmd_id"]:
                results.append(result)
                if len(results) >= repeat:
                    arrived.set()

    conn = await connect(access, on_message)
    try:
        await conn.subscribe([(topics.cmd_resp, 1)])
        for _ in range(repeat):
            conn.publish(topics.cmd(action), payload, qos=1, retain=False, expiry_s=max(1, int(lifetime_s)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), wait_s)
    finally:
        await conn.disconnect()
    return results


@dataclass
class StationView:
    station_id: str
    state: dict[str, Any] | None = None
    snapshot: dict[str, Any] | None = None
    heartbeat: dict[str, Any] | None = None
    alarms: list[dict[str, Any]] = field(default_factory=list)


async def list_stations(access: BrokerAccess, listen_s: float = 1.5) -> dict[str, StationView]:
    """Presence (retained state), open alarms (retained snapshot) and the latest heartbeat seen."""
    topics = Topics(access.prefix, "+")
    views: dict[str, StationView] = {}

    def on_message(msg: Incoming) -> None:
        with contextlib.suppress(ValueError):
            obj = decode(msg.payload)
            station = obj.get("station_id")
            if not isinstance(station, str):
                return
            view = views.setdefault(station, StationView(station))
            schema = obj.get("schema")
            if schema == STATE:
                view.state = obj
            elif schema == SNAPSHOT:
                view.snapshot, view.alarms = obj, list(obj.get("alarms") or [])
            elif schema == HEARTBEAT:
                view.heartbeat = obj

    conn = await connect(access, on_message)
    try:
        await conn.subscribe([(topics.state, 1), (topics.snapshot, 1), (topics.heartbeat, 0)])
        await asyncio.sleep(listen_s)
    finally:
        await conn.disconnect()
    return views


def describe(msg: Incoming) -> str:
    """One line per message for `station ops watch`."""
    try:
        obj = decode(msg.payload)
    except ValueError:
        return f"{msg.topic} <{len(msg.payload)} bytes, not JSON>"
    schema = obj.get("schema", "?")
    if schema == "event/1":
        return f"{msg.topic} seq={obj.get('seq')} {obj.get('type')} {obj.get('payload')}"
    if schema == STATE:
        return f"{msg.topic} {obj.get('state')} session={obj.get('session')}{' (retained)' if msg.retain else ''}"
    if schema == COMMAND_RESULT:
        reason = f" {obj.get('reason')}" if obj.get("reason") else ""
        return f"{msg.topic} {obj.get('cmd_id')} {obj.get('action')}: {obj.get('status')}{reason} {obj.get('result')}"
    return f"{msg.topic} {schema} {obj}"


async def watch(
    access: BrokerAccess, out: Callable[[str], None], station_id: str = "+", duration_s: float | None = None
) -> None:
    """Print events, telemetry, presence and command results until cancelled (or `duration_s`)."""
    t = Topics(access.prefix, station_id)
    conn = await connect(access, lambda msg: out(describe(msg)))
    try:
        await conn.subscribe([(t.evt_filter, 1), (t.tele_filter, 0), (t.state, 1), (t.cmd_resp, 1)])
        if duration_s is None:
            await conn.closed
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(conn.closed), duration_s)
    finally:
        await conn.disconnect()
