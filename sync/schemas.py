"""JSON Schemas of the command body and of each action's parameters, generated from `sync.params`.

The hand-written schemas in docs/schemas/ describe what the station sends; these generated
ones describe what it accepts, so they can never drift from the validation the router does.

    python -m sync.schemas docs/schemas      # rewrite command.v1.json and params.*.v1.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .params import ACTIONS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
TIME_REF = {"$ref": "urn:station-sync:common:1#/$defs/time"}


def params_id(action: str) -> str:
    return f"urn:station-sync:params:{action}:1"


def params_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for action, model in ACTIONS.items():
        schema = model.model_json_schema()
        schema = {"$schema": SCHEMA_DIALECT, "$id": params_id(action), **schema}
        out[f"params.{action}.v1.json"] = schema
    return out


def command_schema() -> dict[str, Any]:
    """command/1: the signed body (see signed-command.v1.json)."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "urn:station-sync:command:1",
        "title": "command/1: the body of a signed command",
        "description": (
            "The station checks, in order: signature, station_id, not expired (expires_at) and not issued in the "
            "future (issued_at, with clock-skew tolerance), lifetime within the action's limit (open_compartment: "
            "300 s), issuer_seq greater than the last accepted one of this issuer, known action, valid params. "
            "cmd_id is remembered past expires_at."
        ),
        "type": "object",
        "required": [
            "schema",
            "cmd_id",
            "station_id",
            "issuer",
            "issuer_seq",
            "issued_at",
            "expires_at",
            "action",
            "params",
        ],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": "command/1"},
            "cmd_id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "a UUID"},
            "station_id": {"$ref": "urn:station-sync:common:1#/$defs/station_id"},
            "issuer": {"type": "string", "minLength": 1, "maxLength": 64, "description": "names the pinned key"},
            "issuer_seq": {"type": "integer", "minimum": 1, "description": "strictly growing per issuer"},
            "issued_at": TIME_REF,
            "expires_at": TIME_REF,
            "action": {"enum": sorted(ACTIONS)},
            "params": {"type": "object"},
        },
        "allOf": [
            {
                "if": {"properties": {"action": {"const": action}}},
                "then": {"properties": {"params": {"$ref": params_id(action)}}},
            }
            for action in sorted(ACTIONS)
        ],
    }


def generated() -> dict[str, dict[str, Any]]:
    return {"command.v1.json": command_schema(), **params_schemas()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in generated().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(written_path)
