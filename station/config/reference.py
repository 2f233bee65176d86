"""Render the configuration reference (docs/configuration.md) from the pydantic models."""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .overlay import PROTECTED

HEADER = """# Configuration reference

One TOML file (UTF-8). `station config check FILE` prints every problem with its TOML path and
line, and exits 2; `station run` and `station demo` run the same checks at start-up, print the
same list and exit 2 (never a traceback for a problem of the config). Relative paths (database,
TLS files, fridge map files) are relative to the config file. Every serial `port` is a pyserial
URL: `/dev/ttyUSB0`, a pty path, `socket://host:port`, `loop://`, `rfc2217://host:port`.

Two kinds of checks, both in `config check` and at start-up:

- **The file alone** (the models below): TOML syntax, unknown keys, types, ranges, names,
  cross-references (a compartment's bus and board, a fridge's line and zone), host names and IP
  addresses (`256.1.1.1` and empty hosts are errors), TCP ports 1-65535 in every `host:port`
  and URL, time zones, fridge models (a shipped map in `drivers/fridge/maps` and its probes).
- **This machine** (`station/config/environment.py`, as the user that runs the check): the
  database must be a SQLite file (or not exist yet) in an existing folder that user may write to;
  TLS files must exist and load (PEM, matching key, no passphrase); a fridge map `.json` file
  must load. A serial device path that does not exist is a **warning** (a USB adapter may be
  unplugged while checking; the daemon starts, reports the device down and keeps retrying); a
  path that is a folder, a regular file, `/dev/null` or another character device that is not a
  terminal is an **error**, and so is a device the user may not open (group `dialout`).

Examples: `examples/station.sim.toml` (the demo station), `examples/station.hw.toml` (hardware).

## Overlays from the operator

A signed `apply_config_overlay` command (docs/mqtt.md) stores a partial config on the station; it
takes effect at the next start. Tables merge key by key, a list or a value replaces the file's,
and the result is validated like the file (the command is refused with every problem if not).
An overlay may not touch the station's identity, reachability or trust anchors, nor replace a
table that holds them (`"mqtt": null` is refused): {protected}.
If a stored overlay no longer fits the file (the file was changed since), the station runs on
the file alone, logs why, and `/api/health` shows `config_overlay.state = "rejected"`.

This file is generated from the code: `station config reference > docs/configuration.md`
(a test fails when it is out of date).
"""


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a).replace("'", '"') for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(annotation) if a is not type(None)) + " (optional)"
    if origin in (list, dict):
        args = ", ".join(_type_name(a) for a in get_args(annotation))
        return f"{origin.__name__}[{args}]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"table [{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "empty" if not value else f"`{value!r}`"
    if info.default is PydanticUndefined or info.default is None:
        return "none"
    if isinstance(info.default, BaseModel):
        return "defaults"
    return f"`{info.default!r}`"


def _limits(info: FieldInfo) -> str:
    out = []
    for meta in info.metadata:
        for name, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "min items")):
            value = getattr(meta, name, None)
            if value is not None:
                out.append(f"{symbol} {value}")
    return ", ".join(out)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found.extend(_nested_models(arg))
    return found


def render(root: type[BaseModel]) -> str:
    lines = [HEADER.format(protected=", ".join(f"`{path}`" for path in PROTECTED))]
    seen: set[type[BaseModel]] = set()
    queue: list[type[BaseModel]] = [root]
    while queue:
        model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        doc = (model.__doc__ or "").strip().splitlines()
        lines.append(f"\n## {model.__name__}\n")
        if doc and model is not root:
            lines.append(doc[0] + "\n")
        lines.append("| key | type | default | limits | meaning |\n|---|---|---|---|---|")
        for name, info in model.model_fields.items():
            desc = (info.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} | {_limits(info)} | {desc} |")
            queue.extend(_nested_models(info.annotation))
    return "\n".join(lines) + "\n"
