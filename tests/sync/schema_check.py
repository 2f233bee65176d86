"""The contract's JSON Schemas (docs/schemas) loaded once, and the event registry as type -> payload schema.

Shared by the contract tests (tests/sync) and the whole-daemon tests (tests/station).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
EVENT_REGISTRY = "urn:station-sync:event-payloads:1"
ROOT_IDS = {
    "event/1": "urn:station-sync:event:1",
    "state/1": "urn:station-sync:state:1",
    "heartbeat/1": "urn:station-sync:heartbeat:1",
    "snapshot/1": "urn:station-sync:snapshot:1",
    "command-result/1": "urn:station-sync:command-result:1",
    "ack/1": "urn:station-sync:ack:1",
    "platform-state/1": "urn:station-sync:platform-state:1",
    "signed-command/1": "urn:station-sync:signed-command:1",
    "command/1": "urn:station-sync:command:1",
}


def load_schemas() -> tuple[Registry, dict[str, dict[str, Any]]]:
    by_id = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        by_id[schema["$id"]] = schema
    registry = Registry().with_resources((sid, Resource.from_contents(s)) for sid, s in by_id.items())
    return registry, by_id


REGISTRY, BY_ID = load_schemas()


def errors(message: dict[str, Any], schema_id: str | None = None) -> list[str]:
    """Every problem of `message` against its schema (named by its `schema` field unless given)."""
    schema = BY_ID[schema_id or ROOT_IDS[message.get("schema")]]  # type: ignore[index]
    validator = Draft202012Validator(schema, registry=REGISTRY)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(message)]


@dataclass(frozen=True)
class EventRule:
    """One rule of event-payloads.v1.json: the types it covers, their payload schema and priority."""

    types: tuple[str, ...]  # exact types
    pattern: str | None  # or a family such as ^sale\.[a-z_]+$
    type_version: int
    payload_schema: str
    priority: str

    def covers(self, event_type: str, type_version: int = 1) -> bool:
        if type_version != self.type_version:
            return False
        return event_type in self.types or (self.pattern is not None and re.match(self.pattern, event_type) is not None)


def event_rules() -> list[EventRule]:
    rules = []
    for rule in BY_ID[EVENT_REGISTRY]["allOf"]:
        when, then = rule["if"]["properties"], rule["then"]["properties"]
        match = when["type"]
        rules.append(
            EventRule(
                types=tuple([match["const"]] if "const" in match else match.get("enum", [])),
                pattern=match.get("pattern"),
                type_version=when["type_version"]["const"],
                payload_schema=then["payload"]["$ref"],
                priority=then["priority"]["const"],
            )
        )
    return rules


RULES = event_rules()


def rule_for(event_type: str, type_version: int = 1) -> EventRule | None:
    found = [r for r in RULES if r.covers(event_type, type_version)]
    assert len(found) <= 1, f"{event_type} matches several registry rules"
    return found[0] if found else None


def event_problems(envelope: dict[str, Any]) -> list[str]:
    """An `event/1` envelope against the contract, and its type against the registry: no "any object" pass."""
    problems = errors(envelope, ROOT_IDS["event/1"])
    if rule_for(envelope.get("type", ""), envelope.get("type_version", 1)) is None:
        problems.append(f"type {envelope.get('type')!r} v{envelope.get('type_version')} has no payload schema")
    return problems
