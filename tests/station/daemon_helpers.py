"""Shared pieces of the whole-daemon tests: the [mqtt] section of a station that syncs with a test broker."""

from __future__ import annotations

from typing import Any

from sync.signing import public_key_text


def mqtt_section(broker_port: int, operator_key: Any, issuer: str = "county-ops") -> str:
    """TOML: one broker on loopback, a heartbeat every second, `operator_key` pinned as `issuer`."""
    return f"""
[mqtt]
heartbeat_s = 1
[[mqtt.brokers]]
host = "127.0.0.1"
port = {broker_port}
[mqtt.operator_keys]
{issuer} = "{public_key_text(operator_key)}"
"""
