"""docs/mqtt.md stays true to the code: the ACL the tests use, every action, every schema file, every
rejection reason, the command size limit, every event type of the registry, the Will's fields."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from simulators.mqtt.localbroker import STATION_ACL
from sync.contract import MAX_COMMAND_BYTES
from sync.params import ACTIONS
from tests.sync.schema_check import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs"
TEXT = (DOCS / "mqtt.md").read_text()


def test_the_documented_acl_is_the_tested_acl():
    assert STATION_ACL.strip() in TEXT


def test_every_action_is_documented():
    for action in ACTIONS:
        assert f"`{action}`" in TEXT, action


def test_every_hand_written_schema_file_is_listed():
    for path in (DOCS / "schemas").glob("*.v1.json"):
        if not path.name.startswith("params."):
            assert path.name in TEXT, path.name


def _rejection_reasons() -> set[str]:
    """Every reason the router can refuse with: the first argument of each `Rejected(...)`, and the
    reasons `_envelope` returns as (reason, detail) pairs."""
    tree = ast.parse((Path(__file__).resolve().parents[2] / "sync" / "router.py").read_text())
    reasons = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Rejected" and node.args:
            reasons |= {n.value for n in ast.walk(node.args[0]) if isinstance(n, ast.Constant)}
    envelope = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_envelope")
    for node in ast.walk(envelope):
        first = node.elts[0] if isinstance(node, ast.Tuple) and len(node.elts) == 2 else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            reasons.add(first.value)
    return reasons


def test_every_rejection_reason_is_in_the_checks_table():
    table = TEXT[TEXT.index("### 6.2") : TEXT.index("### 6.3")]
    reasons = _rejection_reasons()
    assert {"retained", "too_large", "not_utf8", "malformed", "out_of_order"} <= reasons
    for reason in reasons:
        assert f"`{reason}`" in table, reason


def test_the_size_limit_and_encoding_rules_are_the_ones_enforced():
    assert f"{MAX_COMMAND_BYTES:,} bytes" in TEXT and MAX_COMMAND_BYTES == 256 * 1024
    assert "Retain As Published" in TEXT and "MQTT 3.1.1" in TEXT
    assert "retain_available" in TEXT and "MOSQ_EVT_ACL_CHECK" in TEXT


def test_every_event_type_rule_and_its_payload_file_are_documented():
    table = TEXT[TEXT.index("### 3.2") : TEXT.index("### 3.3")]
    for rule in RULES:
        file = next(p.name for p in (DOCS / "schemas").glob("payload.*.json") if rule.payload_schema in p.read_text())
        assert file in table, file
        for event_type in rule.types:
            assert f"`{event_type}`" in table, event_type
        if rule.pattern:
            family = rule.pattern.strip("^$").split("\\.")[0]
            assert f"family `{family}.<state>`" in table, family
            assert f"| {rule.priority} |" in table


def test_the_will_is_documented_field_by_field():
    presence = TEXT[TEXT.index("## 5. Presence") : TEXT.index("## 6. Commands")]
    will = json.loads((DOCS / "schemas" / "state.v1.json").read_text())["oneOf"][2]
    assert will["properties"]["reason"] == {"const": "connection_lost"}
    for field in will["properties"]:
        assert f"`{field}`" in presence, field
    assert "no `at`" in presence


def test_the_result_schema_names_every_rejection_reason():
    described = json.loads((DOCS / "schemas" / "command-result.v1.json").read_text())["properties"]["reason"]
    for reason in _rejection_reasons():
        assert f" {reason} " in described["description"].replace("|", " | ").replace(".", " ."), reason
