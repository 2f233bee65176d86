"""docs/mqtt.md stays true to the code: the ACL the tests use, every action, every schema file."""

from __future__ import annotations

from pathlib import Path

from simulators.mqtt.localbroker import STATION_ACL
from sync.params import ACTIONS

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
