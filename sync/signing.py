"""Operator keys and signed commands (Ed25519, detached signature over the exact body bytes).

On the wire a command is `{"schema": "signed-command/1", "body": "<command JSON text>",
"sig": "<base64 signature of the UTF-8 body text>"}`: the body travels as a string so the
signed bytes are exactly the bytes verified, with no JSON canonicalisation involved.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .contract import COMMAND, SIGNED_COMMAND, encode


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """PKCS#8 PEM, readable by the owner only."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64, the form pinned in `mqtt.operator_keys`."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A pinned key as 64 hex digits or base64 of the 32 raw bytes."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("operator key is neither hex nor base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify(public: Ed25519PublicKey, body: str, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public.verify(signature, body.encode())
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def command_body(
    *,
    station_id: str,
    action: str,
    params: dict[str, Any],
    issuer: str,
    issuer_seq: int,
    lifetime_s: float = 120.0,
    now: datetime | None = None,
    cmd_id: str | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "schema": COMMAND,
        "cmd_id": cmd_id or str(uuid.uuid4()),
        "station_id": station_id,
        "issuer": issuer,
        "issuer_seq": issuer_seq,
        "issued_at": now.isoformat(timespec="milliseconds"),
        "expires_at": (now + timedelta(seconds=lifetime_s)).isoformat(timespec="milliseconds"),
        "action": action,
        "params": params,
    }


def sign_command(body: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The wire payload of a signed command."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    signature = base64.b64encode(key.sign(text.encode())).decode()
    return encode({"schema": SIGNED_COMMAND, "body": text, "sig": signature})
