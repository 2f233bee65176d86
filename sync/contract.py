"""The MQTT contract: topic names, schema identifiers, payload encoding (see docs/mqtt.md).

Everything a consumer needs for ordering and dedupe (event id, epoch, sequence, schema
version, correlation id, expiry) lives in the JSON payload, so the contract works on MQTT
3.1.1 with QoS 0/1; MQTT 5 properties only mirror it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

# Schema identifiers: "<name>/<major version>"; a consumer refuses a major version it does not know.
EVENT = "event/1"
STATE = "state/1"
HEARTBEAT = "heartbeat/1"
SNAPSHOT = "snapshot/1"
SIGNED_COMMAND = "signed-command/1"
COMMAND = "command/1"
COMMAND_RESULT = "command-result/1"
ACK = "ack/1"
PLATFORM_STATE = "platform-state/1"

# The platform's own presence lives under the prefix at a level no station id can take (ids start
# with a letter or digit), so `<prefix>/+/state` filters see it and per-station ACLs stay simple.
PLATFORM_LEVEL = "_platform"

PRIORITY_NAMES = {0: "money", 1: "alarm", 2: "stock", 3: "telemetry"}

# One topic level, and portable: NATS refuses '.' and ' ' in MQTT topics.
_STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")


def check_station_id(station_id: str) -> str:
    """A station id usable as one topic level on every broker we support."""
    if not _STATION_ID.match(station_id):
        raise ValueError(
            f"station id {station_id!r} cannot be an MQTT topic level: use letters, digits, '-' and '_' "
            "(no '/', '+', '#', '.', spaces; NATS refuses '.')"
        )
    return station_id


def type_to_topic(event_type: str) -> str:
    """Event type to topic levels: 'alarm.raised' -> 'alarm/raised' (NATS forbids '.')."""
    if not _TYPE.match(event_type):
        raise ValueError(f"event type {event_type!r} is not dotted lower-case words")
    return event_type.replace(".", "/")


class Topics:
    """Topic names for one station (or, with station_id '+', filters for all stations)."""

    def __init__(self, prefix: str, station_id: str) -> None:
        if station_id != "+":
            check_station_id(station_id)
        if not prefix or any(c in prefix for c in "+#") or prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"bad topic prefix {prefix!r}")
        self.prefix = prefix
        self.base = f"{prefix}/{station_id}"
        self.state = f"{self.base}/state"
        self.ack = f"{self.base}/ack"
        self.cmd_resp = f"{self.base}/cmd-resp"
        self.cmd_filter = f"{self.base}/cmd/+"
        self.evt_filter = f"{self.base}/evt/#"
        self.tele_filter = f"{self.base}/tele/#"
        self.snapshot = f"{self.base}/tele/snapshot"
        self.heartbeat = f"{self.base}/tele/heartbeat"
        self.platform_state = f"{prefix}/{PLATFORM_LEVEL}/state"
        self._cache: dict[tuple[str, str], str] = {}

    def stream_topic(self, stream: str, event_type: str) -> str:
        """Where an outbox event goes: `evt/...` (main stream) or `tele/...` (telemetry), cached per type."""
        key = (stream, event_type)
        topic = self._cache.get(key)
        if topic is None:
            topic = self.tele(event_type) if stream == "telemetry" else self.evt(event_type)
            self._cache[key] = topic
        return topic

    def evt(self, event_type: str) -> str:
        return f"{self.base}/evt/{type_to_topic(event_type)}"

    def tele(self, kind: str) -> str:
        return f"{self.base}/tele/{type_to_topic(kind)}"

    def cmd(self, action: str) -> str:
        return f"{self.base}/cmd/{action}"

    def parse(self, topic: str) -> tuple[str, str, str] | None:
        """(station_id, kind, rest) for a topic under this prefix; kind is the level after the id."""
        parts = topic.split("/")
        prefix_parts = self.prefix.split("/")
        if parts[: len(prefix_parts)] != prefix_parts or len(parts) < len(prefix_parts) + 2:
            return None
        station_id, kind = parts[len(prefix_parts)], parts[len(prefix_parts) + 1]
        return station_id, kind, "/".join(parts[len(prefix_parts) + 2 :])


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(value: str) -> datetime:
    """ISO-8601 with an explicit offset ('Z' accepted); naive times are refused."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed


def encode(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the wire form of every payload."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# Most signed commands are a few hundred bytes; the largest is a whole catalogue (`set_catalogue` with
# `replace`): about 200 bytes per fully described product, so about 1,300 products fit.
MAX_COMMAND_BYTES = 256 * 1024

_BOMS = (
    (b"\xef\xbb\xbf", "starts with a UTF-8 byte-order mark"),
    (b"\xff\xfe\x00\x00", "is UTF-32 (little-endian byte-order mark)"),
    (b"\x00\x00\xfe\xff", "is UTF-32 (big-endian byte-order mark)"),
    (b"\xff\xfe", "is UTF-16 (little-endian byte-order mark)"),
    (b"\xfe\xff", "is UTF-16 (big-endian byte-order mark)"),
)


def utf8_text(payload: bytes) -> str:
    """The payload as text if it is plain UTF-8 (no byte-order mark); ValueError saying what it is instead.

    Python's json.loads(bytes) would also take UTF-16 and UTF-32 and skip a BOM; the contract says
    UTF-8, and a signature is checked over the UTF-8 bytes, so anything else is refused by name.
    """
    for bom, what in _BOMS:
        if payload.startswith(bom):
            raise ValueError(f"the payload {what}; send UTF-8 without a byte-order mark")
    if b"\x00" in payload[:4]:
        raise ValueError("the payload looks like UTF-16 or UTF-32 (NUL bytes); send UTF-8")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the payload is not valid UTF-8 (byte {exc.start}: {exc.reason})") from None


def decode(payload: bytes) -> dict[str, Any]:
    """Parse a JSON object payload; raises ValueError on anything else."""
    return decode_text(payload.decode("utf-8"))


def decode_text(text: str) -> dict[str, Any]:
    """Parse a JSON object; raises ValueError on anything else."""
    obj = json.loads(text)
    if not isinstance(obj, dict):
        raise ValueError("payload is not a JSON object")
    return obj
