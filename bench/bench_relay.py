"""Drain a 100,000-event backlog ("a week offline") through the relay to a private Mosquitto.

Baseline, same run, same broker, same messages: a bare paho QoS 1 publish loop (network thread,
same in-flight window) sending the exact bytes the relay sends, finished when the last PUBACK is
in. The relay is finished when the platform has acknowledged every event and the station has
written those acks (stricter than PUBACK). The reference platform consumer (a separate process,
fresh store per run, MQTT 3.1.1) is subscribed in both cases. Each side runs in its own process; its peak
RSS (VmHWM) is reported. Second scenario: 50 ms added round trip through the fault proxy.
Targets: relay >= 0.7 x bare on loopback; 100k in < 120 s at 50 ms RTT.

    .venv/bin/python bench/bench_relay.py [--events 100000] [--reps 3] [--rtt-ms 50] [--rtt-reps 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulators.mqtt.localbroker import Mosquitto, free_port, wait_listening  # noqa: E402
from station.db import migrate  # noqa: E402
from station.db.engine import Database  # noqa: E402
from station.db.models import Priority  # noqa: E402
from station.outbox import record_event  # noqa: E402

STATION = "bench-1"
QUEUE_CAP = 10_000  # bare loop: messages queued in paho at most
PY = sys.executable


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the backlog --------------------------------------------------------------------------------
def _event(i: int) -> tuple[str, dict[str, Any], Priority]:
    """A week of a village shop: mostly sales, some audit, orders and a few alarms (~250 B payloads)."""
    kind = i % 20
    if kind < 12:
        lines = [{"gtin": f"40{i % 997:011d}", "qty": 1 + i % 3, "unit_cents": 129 + i % 400} for _ in range(2)]
        return (
            "sale.captured",
            {
                "sale_id": f"sale-{i:08d}",
                "total_cents": 499 + i % 2000,
                "lines": lines,
                "terminal": {"receipt_no": i % 9999, "trace_no": i},
            },
            Priority.MONEY,
        )
    if kind < 17:
        return (
            "audit",
            {
                "audit_id": i,
                "actor": "volunteer:3",
                "action": "restock",
                "subject": f"compartment:{i % 48}",
                "details": {"items": i % 7, "note": "Nachschub Milch und Brot"},
            },
            Priority.STOCK,
        )
    if kind < 19:
        return (
            "order.picked_up",
            {"external_id": f"ORD-{i:07d}", "compartment_id": 1 + i % 48, "picked_up_at": "2026-11-22T10:00:00+00:00"},
            Priority.STOCK,
        )
    return (
        "alarm.raised",
        {
            "alarm_id": i,
            "kind": "fridge.too_warm",
            "subject": "fridge:chiller-1",
            "severity": "warning",
            "state": "raised",
            "raised_at": "2026-11-22T10:00:00+00:00",
            "cleared_at": None,
            "details": {"c": 8.5},
        },
        Priority.ALARM,
    )


async def build_backlog(path: Path, events: int) -> None:
    migrate.upgrade(path)
    db = Database(path)
    await db.start()
    for first in range(0, events, 2000):

        def _write(session: Any, start: int = first) -> None:
            for i in range(start, min(start + 2000, events)):
                kind, payload, priority = _event(i)
                record_event(session, kind, payload, priority=priority)

        await db.write(_write)
    await db.stop()


async def dump_messages(path: Path, out: Path) -> int:
    """The exact (topic, bytes) the relay sends on its first pass, in its order."""
    from sync.contract import Topics
    from sync.outboxio import PRIORITIES, fetch_pending

    db = Database(path)
    await db.start()
    cursor = dict.fromkeys(PRIORITIES, 0)
    messages: list[tuple[str, bytes]] = []
    while True:
        batch = await db.read(lambda s: fetch_pending(s, Topics("station", STATION), STATION, cursor, 5000))
        if not batch:
            break
        for event in batch:
            messages.append((event.topic, event.data))
            cursor[event.priority] = event.seq
    await db.stop()
    out.write_bytes(pickle.dumps(messages))
    return len(messages)


# -- children (one process per measured side) ------------------------------------------------------
async def child_relay(db_path: Path, port: int, events: int, client_id: str) -> dict[str, Any]:
    from station.config.mqtt import BrokerConfig, MqttConfig
    from station.outbox import pending_count
    from sync.component import SyncComponent

    db = Database(db_path)
    await db.start()
    rss_before = peak_rss_mb()
    # a fresh MQTT session per run: acks queued for an earlier run's session must not pre-acknowledge this one
    config = MqttConfig(brokers=[BrokerConfig(host="127.0.0.1", port=port)], client_id=client_id, heartbeat_s=3600)
    sync = SyncComponent(config, STATION, db)
    await sync.start()
    while sync.connection is None:
        await asyncio.sleep(0.001)
    started = time.perf_counter()  # like the bare loop: the clock starts once connected
    while sync.relay.stats.acked < events:
        await asyncio.sleep(0.01)
    seconds = time.perf_counter() - started
    left = await db.read(pending_count)
    stats = sync.relay.stats
    await sync.stop()
    await db.stop()
    return {
        "seconds": seconds,
        "left": left,
        "sent": stats.sent,
        "resent": stats.resent,
        "rewinds": stats.rewinds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_bare(messages_path: Path, port: int, inflight: int) -> dict[str, Any]:
    """paho's own loop thread, QoS 1, `inflight` on the wire; the producer blocks at QUEUE_CAP queued
    messages because paho's mids wrap at 65,535: with more queued, publish() fails (MQTT_ERR_QUEUE_SIZE)."""
    import threading

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    messages = pickle.loads(messages_path.read_bytes())
    done, acked, room = threading.Event(), [0], threading.Semaphore(QUEUE_CAP)

    def on_publish(*_args: Any) -> None:
        acked[0] += 1
        room.release()
        if acked[0] == len(messages):
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bare-baseline", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    time.sleep(0.3)
    failed = 0
    started = time.perf_counter()
    for topic, data in messages:
        room.acquire()
        if client.publish(topic, data, qos=1).rc != paho.MQTT_ERR_SUCCESS:
            failed += 1
    done.wait(600)
    seconds = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return {"seconds": seconds, "acked": acked[0], "failed": failed, "peak_rss_mb": peak_rss_mb()}


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([PY, __file__, "--child", *args], capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- orchestration ---------------------------------------------------------------------------------------
class Platform:
    """The reference platform consumer as its own process, fresh store and session per run."""

    def __init__(self, workdir: Path, port: int, run: int) -> None:
        store = workdir / f"platform-{run}.db"
        self.proc = subprocess.Popen(
            [
                PY,
                "-m",
                "station.cli",
                "ops",
                "platform",
                "--broker",
                f"127.0.0.1:{port}",
                "--store",
                str(store),
                "--client-id",
                f"platform-{run}",
                "--protocol",
                "3.1.1",  # the consumer is CPU-heavy; 3.1.1 spares paho's MQTT 5 property parsing (both sides alike)
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        time.sleep(0.5)  # subscribed

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def scenario(
    workdir: Path,
    template: Path,
    messages: Path,
    broker_port: int,
    target_port: int,
    reps: int,
    inflight: int,
    events: int,
    run_ids: list[int],
) -> tuple[list[dict], list[dict]]:
    relay_runs, bare_runs = [], []
    for _ in range(reps):
        for side in ("bare", "relay"):
            run_ids[0] += 1
            platform = Platform(workdir, broker_port, run_ids[0])
            try:
                if side == "relay":
                    db_copy = workdir / f"station-{run_ids[0]}.db"
                    shutil.copy(template, db_copy)
                    relay_runs.append(
                        run_child("relay", str(db_copy), str(target_port), str(events), f"bench-{run_ids[0]}")
                    )
                    db_copy.unlink()
                else:
                    bare_runs.append(run_child("bare", str(messages), str(target_port), str(inflight)))
            finally:
                platform.stop()
    return relay_runs, bare_runs


def report(title: str, events: int, relay: list[dict], bare: list[dict]) -> dict[str, float]:
    r_rates = [events / r["seconds"] for r in relay]
    b_rates = [events / b["seconds"] for b in bare]
    r_med, b_med = statistics.median(r_rates), statistics.median(b_rates)
    print(f"\n{title}")
    print(f"  {'side':<28} {'runs':>4} {'median msg/s':>13} {'min':>8} {'max':>8} {'median s':>9} {'peak RSS MB':>12}")
    for name, rates, runs in (
        ("relay (until platform ack)", r_rates, relay),
        ("bare paho (until PUBACK)", b_rates, bare),
    ):
        secs = statistics.median(x["seconds"] for x in runs)
        rss = max(x["peak_rss_mb"] for x in runs)
        print(
            f"  {name:<28} {len(runs):>4} {statistics.median(rates):>13.0f} {min(rates):>8.0f} {max(rates):>8.0f} "
            f"{secs:>9.1f} {rss:>12.1f}"
        )
    extra = {k: [x[k] for x in relay] for k in ("resent", "rewinds", "left")}
    base = statistics.median(x["rss_before_mb"] for x in relay)
    print(f"  ratio relay/bare (medians): {r_med / b_med:.2f}   relay RSS before drain {base:.1f} MB   {extra}")
    return {"relay": r_med, "bare": b_med, "ratio": r_med / b_med}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3, help="repetitions on loopback")
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--rtt-reps", type=int, default=1, help="repetitions with added latency (0: skip)")
    parser.add_argument("--inflight", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        workdir = Path(tmp)
        template, messages = workdir / "backlog.db", workdir / "messages.pickle"
        t = time.perf_counter()
        asyncio.run(build_backlog(template, args.events))
        count = asyncio.run(dump_messages(template, messages))
        print(
            f"backlog: {count} events, {template.stat().st_size / 1e6:.1f} MB database, "
            f"built in {time.perf_counter() - t:.1f} s; cores: {os.cpu_count()}"
        )
        broker = Mosquitto(workdir / "mosquitto", persistence=False).start()
        run_ids = [0]
        try:
            relay, bare = scenario(
                workdir, template, messages, broker.port, broker.port, args.reps, args.inflight, count, run_ids
            )
            loop = report(f"loopback, window {args.inflight}", count, relay, bare)
            if args.rtt_reps:
                port = free_port()
                proxy = subprocess.Popen(
                    [
                        PY,
                        "-m",
                        "simulators.mqtt.faultproxy",
                        "--target-port",
                        str(broker.port),
                        "--port",
                        str(port),
                        "--latency-ms",
                        str(args.rtt_ms / 2),
                    ],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                )
                try:
                    wait_listening(port, proc=proxy)
                    relay, bare = scenario(
                        workdir, template, messages, broker.port, port, args.rtt_reps, args.inflight, count, run_ids
                    )
                finally:
                    proxy.terminate()
                    proxy.wait(10)
                slow = report(
                    f"{args.rtt_ms:.0f} ms added RTT (fault proxy), window {args.inflight}", count, relay, bare
                )
                print(
                    f"\n  {count} events at {args.rtt_ms:.0f} ms RTT: relay {count / slow['relay']:.1f} s "
                    f"(target < 120 s)"
                )
            print(f"  loopback ratio {loop['ratio']:.2f} (target >= 0.70)")
        finally:
            broker.stop()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "relay":
            result = asyncio.run(child_relay(Path(rest[0]), int(rest[1]), int(rest[2]), rest[3]))
        else:
            result = child_bare(Path(rest[0]), int(rest[1]), int(rest[2]))
        print(json.dumps(result))
    else:
        main()
