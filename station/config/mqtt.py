"""Configuration of the central sync over MQTT (contract and defaults: docs/mqtt.md)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Host, Section


class BrokerConfig(Section):
    host: Host
    port: int = Field(default=1883, gt=0, lt=65536)
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        default="auto", description="auto: MQTT 5, falling back to 3.1.1 when refused (NATS speaks 3.1.1 only)"
    )


class TlsConfig(Section):
    """Per-station client certificate (its CN is the station id) and the broker's CA."""

    ca_file: Path
    cert_file: Path
    key_file: Path


class MqttConfig(Section):
    """Brokers are tried in order; the relay fails over to the next one."""

    brokers: list[BrokerConfig] = Field(min_length=1)
    topic_prefix: str = Field(default="station", pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    client_id: str | None = Field(default=None, description="defaults to the station id")
    username: str | None = None
    password: str | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    session_expiry_s: int = Field(default=7 * 86_400, ge=0, description="MQTT 5 session expiry (persistent session)")
    reconnect_min_s: float = Field(default=0.5, gt=0, description="first reconnect delay (jittered, doubling)")
    reconnect_max_s: float = Field(default=60.0, gt=0, description="reconnect delay cap")
    inflight: int = Field(default=200, ge=1, le=65535, description="QoS 1 PUBLISHes awaiting PUBACK")
    ack_window: int = Field(default=5000, ge=1, description="events sent and not yet acknowledged by the platform")
    ack_timeout_s: float = Field(default=30.0, gt=0, description="re-send outstanding events after this ack silence")
    batch: int = Field(default=256, ge=1, le=10_000, description="outbox rows read per query")
    poll_s: float = Field(default=2.0, gt=0, description="outbox poll interval when no write woke the relay")
    heartbeat_s: float = Field(default=60.0, gt=0)
    offline_summary_s: float = Field(default=900.0, gt=0, description="one telemetry summary per period offline")
    telemetry_ttl_s: int = Field(default=2 * 86_400, gt=0, description="offline telemetry expires after this")
    telemetry_max_rows: int = Field(default=20_000, ge=100, description="oldest undelivered telemetry dropped beyond")
    delivered_retention_days: float = Field(default=30.0, gt=0, description="delivered rows kept for re-send requests")
    clock_skew_s: float = Field(default=300.0, ge=0, description="tolerated command issued_at in the future")
    command_max_lifetime_s: float = Field(default=86_400.0, gt=0, description="longest accepted command validity")
    operator_keys: dict[str, str] = Field(
        default_factory=dict, description="issuer name -> Ed25519 public key (hex or base64), pinned"
    )

    @field_validator("operator_keys")
    @classmethod
    def _check_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        for issuer, text in keys.items():
            try:
                raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
            except (ValueError, binascii.Error):
                raise ValueError(f"operator key {issuer!r} is neither hex nor base64") from None
            if len(raw) != 32:
                raise ValueError(f"operator key {issuer!r}: an Ed25519 public key has 32 bytes, not {len(raw)}")
        return keys

    @model_validator(mode="after")
    def _check(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        if self.ack_window < self.inflight:
            raise ValueError("ack_window must be at least inflight")
        return self
