"""Every event type the code can emit has a payload schema in the registry (docs/schemas/event-payloads.v1.json).

A static scan of every `record_event(session, <type>, ...)` call in the station's packages: a literal
type must have a rule; an f-string such as f"sale.{state}" must fall under a family rule
(`^sale\\.[a-z_]+$`); a name is resolved to the literals assigned to it. A call whose type cannot be
resolved fails the test: write the type so that a reader (and this test) can see it.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tests.sync.schema_check import BY_ID, RULES, SCHEMA_DIR, rule_for

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("station", "sync", "central", "payments", "deposit", "drivers", "common")


@dataclass(frozen=True)
class Emitted:
    where: str
    exact: str | None = None  # a literal type
    family: str | None = None  # the literal prefix of an f-string type


def _literals(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _assigned(scope: ast.AST, name: str) -> list[str]:
    """String literals assigned to `name` directly in `scope` (not in nested functions)."""
    found: list[str] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found += _literals(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            found += _literals(node.value) if node.value is not None else []
    return found


def _module_constant(tree: ast.Module, name: str) -> list[str]:
    return [v for stmt in tree.body if isinstance(stmt, ast.Assign | ast.AnnAssign) for v in _assigned(stmt, name)]


def emitted_types() -> list[Emitted]:
    out: list[Emitted] = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
                func = call.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name == "Arrow":  # a flow's arrow table: Arrow(..., event="sale.done", ...)
                    events = [k.value for k in call.keywords if k.arg == "event"]
                    where = f"{path.relative_to(REPO)}:{call.lineno}"
                    out += [Emitted(where, exact=e.value) for e in events if isinstance(e, ast.Constant) and e.value]
                    out += [Emitted(where) for e in events if not isinstance(e, ast.Constant)]
                    continue
                typed = [k.value for k in call.keywords if k.arg == "type"]
                if name != "record_event" or (len(call.args) < 2 and not typed):
                    continue
                where = f"{path.relative_to(REPO)}:{call.lineno}"
                arg = call.args[1] if len(call.args) >= 2 else typed[0]
                if isinstance(arg, ast.Attribute) and arg.attr == "event" and isinstance(arg.value, ast.Name) \
                        and arg.value.id == "arrow":
                    continue  # the flow engine writes each arrow's event: the Arrow(...) tables are scanned above
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.append(Emitted(where, exact=arg.value))
                elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                    out.append(Emitted(where, family=str(arg.values[0].value)))
                elif isinstance(arg, ast.Name):
                    enclosing = [s for s in scopes if s.lineno <= call.lineno <= (s.end_lineno or s.lineno)]
                    values = _assigned(enclosing[-1], arg.id) if enclosing else []
                    values = values or _module_constant(tree, arg.id)
                    out += [Emitted(where, exact=v) for v in values] or [Emitted(where)]
                else:
                    out.append(Emitted(where))
    return out


EMITTED = emitted_types()


def test_the_scan_finds_the_known_call_sites():
    """Guards the scanner itself: it sees literals, families and names resolved to literals."""
    exact = {e.exact for e in EMITTED}
    assert {"audit", "alarm.raised", "stock.loaded", "haccp.anchor", "summary", "compartment.blocked"} <= exact
    assert {"sale.done", "sale.authorised", "door.opened", "door.maybe_opened", "compartment.needs_check"} <= exact
    assert len(EMITTED) >= 15


def test_every_emitted_event_type_has_a_payload_schema():
    missing = []
    for emitted in EMITTED:
        if emitted.exact is not None:
            if rule_for(emitted.exact) is None:
                missing.append(f"{emitted.where}: {emitted.exact!r}")
        elif emitted.family is not None:
            if not any(r.pattern and re.match(r.pattern, emitted.family + "x") for r in RULES):
                missing.append(f"{emitted.where}: {emitted.family!r}* (add a family rule)")
        else:
            missing.append(f"{emitted.where}: the event type cannot be read from the code (use a literal)")
    assert missing == [], "no payload schema in docs/schemas/event-payloads.v1.json for:\n" + "\n".join(missing)


def test_every_registry_rule_is_used_and_points_to_a_schema_file():
    for rule in RULES:
        used = any(e.exact in rule.types for e in EMITTED) or any(
            rule.pattern and ((e.family and re.match(rule.pattern, e.family + "x"))
                              or (e.exact and re.match(rule.pattern, e.exact)))
            for e in EMITTED
        )
        assert used, f"registry rule {rule} matches no type the code emits (stale?)"
        assert rule.payload_schema in BY_ID, rule.payload_schema


def test_payload_files_are_named_after_their_id_and_all_registered():
    registered = {r.payload_schema for r in RULES}
    for path in SCHEMA_DIR.glob("payload.*.json"):
        schema_id = json.loads(path.read_text())["$id"]
        _payload, name, version, _json = path.name.split(".")
        assert schema_id == f"urn:station-sync:payload:{name}:{version[1:]}", path.name
        assert schema_id in registered, f"{path.name} is in no registry rule"
