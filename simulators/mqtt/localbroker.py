"""Private brokers on loopback for tests, the benchmark and the demo (never the system one on 1883).

`Mosquitto` runs `/usr/sbin/mosquitto -c <generated conf>` on a free 127.0.0.1 port with its own
persistence directory; `NatsCluster` runs N `nats-server` nodes with JetStream and the MQTT
listener (MQTT 3.1.1 only) clustered over loopback routes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
NATS_SERVER = "/usr/sbin/nats-server"

# Mosquitto ACL (acl_file) for the topic namespace of docs/mqtt.md; %u is the certificate CN
# (use_identity_as_username) and must be a whole topic level. Stations touch only their own
# topics and read the platform's presence; only platform-ops may command; only platform-ingest
# may acknowledge and announce the platform.
STATION_ACL = """\
pattern write station/%u/state
pattern write station/%u/evt/#
pattern write station/%u/tele/#
pattern write station/%u/cmd-resp
pattern read station/%u/cmd/#
pattern read station/%u/ack
pattern read station/_platform/state

user platform-ingest
topic read station/+/state
topic read station/+/evt/#
topic read station/+/tele/#
topic read station/+/cmd-resp
topic write station/+/ack
topic write station/_platform/state

user platform-ops
topic write station/+/cmd/#
topic read station/+/cmd-resp
topic read station/+/state
topic read station/+/evt/#
topic read station/+/tele/#
"""


def find_mosquitto() -> str | None:
    """The Mosquitto binary, or None when it is not installed."""
    return MOSQUITTO if os.access(MOSQUITTO, os.X_OK) else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"broker process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


@dataclass
class Mosquitto:
    """One Mosquitto 2.x instance in `workdir`; `extra` lines are appended to the listener block."""

    workdir: Path
    port: int = 0
    persistence: bool = True
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_conf(self) -> Path:
        lines = [
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            "max_inflight_messages 1000",
            "max_queued_messages 200000",
            "max_queued_bytes 0",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            f"log_dest file {self.workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            *self.extra,
        ]
        if not any(line.startswith("allow_anonymous") for line in self.extra):
            lines.append("allow_anonymous true")
        if os.geteuid() == 0:
            lines.append("user root")  # else Mosquitto drops to 'mosquitto', who cannot read our temp files
        self.conf_path.write_text("\n".join(lines) + "\n")
        return self.conf_path

    def start(self) -> Mosquitto:
        self.write_conf()
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "stderr.log", "ab"),  # noqa: SIM115 - lives as long as the broker
        )
        wait_listening(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        """Graceful stop: Mosquitto saves its persistence file on SIGTERM."""
        _stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: re-read the ACL and password files."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class NatsNode:
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    http_port: int
    proc: subprocess.Popen | None = None


class NatsCluster:
    """N nats-server nodes with JetStream and MQTT on loopback; MQTT streams replicated to all."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = Path(workdir)
        self.nodes = [NatsNode(f"n{i + 1}", free_port(), free_port(), free_port(), free_port()) for i in range(size)]

    def _conf(self, node: NatsNode) -> Path:
        store = self.workdir / node.name / "js"
        store.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats-route://127.0.0.1:{n.cluster_port}" for n in self.nodes if n is not node)
        replicas = min(3, len(self.nodes))
        text = f"""
server_name: {node.name}
listen: 127.0.0.1:{node.client_port}
http: 127.0.0.1:{node.http_port}
jetstream {{ store_dir: "{store}", max_memory_store: 256MB, max_file_store: 2GB }}
cluster {{ name: "sync-test", listen: 127.0.0.1:{node.cluster_port}, routes: [{routes}] }}
mqtt {{ listen: 127.0.0.1:{node.mqtt_port}, stream_replicas: {replicas}, max_ack_pending: 1000 }}
"""
        path = self.workdir / f"{node.name}.conf"
        path.write_text(text)
        return path

    def start_node(self, node: NatsNode) -> None:
        conf = self._conf(node)
        log = open(self.workdir / f"{node.name}.log", "ab")  # noqa: SIM115 - lives as long as the node
        node.proc = subprocess.Popen([NATS_SERVER, "-c", str(conf)], stdout=log, stderr=log)

    def start(self, timeout: float = 60.0) -> NatsCluster:
        """Start every node and wait until each reports itself healthy (JetStream clustered and ready)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            self.start_node(node)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            wait_listening(node.mqtt_port, timeout=max(1.0, deadline - time.monotonic()), proc=node.proc)
            while not self.healthy(node):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"NATS node {node.name} not healthy after {timeout} s")
                time.sleep(0.1)
        return self

    @staticmethod
    def healthy(node: NatsNode) -> bool:
        """The node's monitoring endpoint (loopback) says ok, JetStream included."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/healthz", timeout=1) as answer:
                return json.loads(answer.read()).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def kill(self, index: int) -> None:
        _stop(self.nodes[index].proc, signal.SIGKILL)
        self.nodes[index].proc = None

    def stop(self) -> None:
        for node in self.nodes:
            _stop(node.proc)
            node.proc = None

    def log(self, index: int) -> str:
        path = self.workdir / f"{self.nodes[index].name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
