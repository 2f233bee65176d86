"""Signed command intake: verify, dedupe, route to a handler, store and answer every command.

Checks, in order (docs/mqtt.md "Commands"): not retained → at most 256 KiB (checked before any
decoding) → UTF-8 without a byte-order mark → well-formed JSON → signed → known issuer
and valid signature → (a known command id answers its stored result again) → this station →
not expired, not issued in the future, lifetime within the action's limit → issuer sequence
grows → known action → valid parameters. Only signature-verified commands are stored (an
attacker must not be able to burn command ids); the first result of an id is kept and
re-sent on every duplicate, so a command delivered twice runs once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from station.db.engine import Database
from station.db.types import utcnow

from . import inbox
from .contract import (
    COMMAND,
    COMMAND_RESULT,
    MAX_COMMAND_BYTES,
    SIGNED_COMMAND,
    decode_text,
    now_iso,
    parse_time,
    utf8_text,
)
from .inbox import ACCEPTED, DONE, FAILED, REJECTED, VerifiedCommand
from .mqttio import Incoming
from .signing import parse_public_key, verify

log = logging.getLogger(__name__)

Handler = Callable[[Any, "CommandContext"], Awaitable[dict[str, Any]]]


class CommandError(Exception):
    """A handler's refusal or failure: `code` is machine-readable, `detail` for people."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


class Rejected(Exception):
    """A refused command; `cmd` is set once the signature verified, `hint` is the unverified (cmd_id, action)."""

    def __init__(
        self, reason: str, detail: str = "", cmd: VerifiedCommand | None = None, hint: tuple[Any, Any] = (None, None)
    ) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.cmd, self.hint = reason, detail, cmd, hint


@dataclass(frozen=True)
class Route:
    handler: Handler
    params: type[BaseModel] | None
    max_lifetime_s: float


def result_envelope(
    station_id: str,
    cmd_id: str | None,
    action: str | None,
    status: str,
    *,
    reason: str | None = None,
    detail: str | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema": COMMAND_RESULT,
        "station_id": station_id,
        "cmd_id": cmd_id,
        "action": action,
        "status": status,
        "reason": reason,
        "detail": detail or None,
        "result": result or {},
        "at": now_iso(),
        "duplicate": False,
    }


class CommandContext:
    """What a handler may do: persist acceptance before a side effect, or finish in one transaction."""

    def __init__(self, router: CommandRouter, cmd: VerifiedCommand, params: Any) -> None:
        self.router, self.cmd, self.params = router, cmd, params
        self.db: Database = router.db
        self.services = router.services
        self.actor = f"operator:{cmd.issuer}"
        self.finished: dict[str, Any] | None = None

    def envelope(self, status: str, result: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return result_envelope(self.router.station_id, self.cmd.cmd_id, self.cmd.action, status, result=result, **kw)

    async def accept(self, fn: Callable[[Session], Any] | None = None) -> None:
        """Commit 'accepted' (and fn's writes) before touching foreign state such as a door."""

        def _accept(session: Session) -> None:
            inbox.record(session, self.cmd, ACCEPTED, self.envelope(ACCEPTED))
            if fn is not None:
                fn(session)

        await self.db.write(_accept)

    async def transact(self, fn: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
        """Run fn(session) and store the command's final result in the same transaction."""

        def _run(session: Session) -> dict[str, Any]:
            result = fn(session)
            envelope = self.envelope(DONE, result)
            inbox.record(session, self.cmd, DONE, envelope)
            return envelope

        self.finished = await self.db.write(_run)
        return self.finished["result"]


class CommandRouter:
    def __init__(
        self,
        db: Database,
        station_id: str,
        operator_keys: dict[str, str],
        *,
        services: Any = None,
        clock: Callable[[], datetime] = utcnow,
        clock_skew_s: float = 300.0,
        max_lifetime_s: float = 86_400.0,
    ) -> None:
        self.db, self.station_id, self.services = db, station_id, services
        self.keys = {issuer: parse_public_key(key) for issuer, key in operator_keys.items()}
        self.clock, self.clock_skew_s, self.max_lifetime_s = clock, clock_skew_s, max_lifetime_s
        self.routes: dict[str, Route] = {}

    def register(
        self,
        action: str,
        handler: Handler,
        *,
        params: type[BaseModel] | None = None,
        max_lifetime_s: float | None = None,
    ) -> None:
        self.routes[action] = Route(handler, params, max_lifetime_s or self.max_lifetime_s)

    # -- intake -----------------------------------------------------------------------------
    async def handle(self, msg: Incoming, topic_action: str | None = None) -> dict[str, Any]:
        """Process one message from `cmd/<action>`; returns the result to publish on `cmd-resp`."""
        try:
            cmd = self._verify(msg, topic_action)
            stored = await self.db.read(lambda s: inbox.stored_result(s, cmd.cmd_id))
            if stored is not None:
                return {**stored[1], "duplicate": True}
            route, params = await self._admit(cmd, topic_action)
        except Rejected as rej:
            return await self._reject(rej)
        return await self._execute(cmd, route, params)

    def _verify(self, msg: Incoming, topic_action: str | None) -> VerifiedCommand:
        envelope, problem = _envelope(msg.payload)
        body_text, signature = envelope.get("body"), envelope.get("sig")
        body = _parse_body(body_text)
        hint = (body.get("cmd_id"), body.get("action")) if body is not None else (None, topic_action)
        if msg.retain:
            raise Rejected(
                "retained",
                "the command was published with retain=1 (or is a broker replay); commands are never retained",
                hint=hint,
            )
        if problem is not None:
            raise Rejected(*problem, hint=hint)
        if envelope.get("schema") != SIGNED_COMMAND:
            raise Rejected("malformed", f"schema must be {SIGNED_COMMAND!r}", hint=hint)
        if body is None or not isinstance(body_text, str):
            raise Rejected("malformed", "body must be the command JSON object as a string", hint=hint)
        if not isinstance(signature, str) or not signature:
            raise Rejected("unsigned", "no signature", hint=hint)
        issuer = str(body.get("issuer"))
        key = self.keys.get(issuer)
        if key is None:
            raise Rejected("unknown_issuer", f"no pinned key for issuer {issuer!r}", hint=hint)
        if not verify(key, body_text, signature):
            raise Rejected("bad_signature", f"signature does not verify with {issuer!r}'s key", hint=hint)
        try:
            if body.get("schema") != COMMAND:
                raise ValueError(f"body schema must be {COMMAND!r}")
            cmd = VerifiedCommand(
                cmd_id=_text(body, "cmd_id"),
                station_id=_text(body, "station_id"),
                issuer=issuer,
                issuer_seq=_seq(body),
                issued_at=parse_time(_text(body, "issued_at")),
                expires_at=parse_time(_text(body, "expires_at")),
                action=_text(body, "action"),
                params=body["params"] if isinstance(body.get("params"), dict) else {},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Rejected("malformed", str(exc), hint=hint) from None
        return cmd

    async def _admit(self, cmd: VerifiedCommand, topic_action: str | None) -> tuple[Route, Any]:
        if topic_action is not None and topic_action != cmd.action:
            raise Rejected("topic_mismatch", f"sent on cmd/{topic_action} but names {cmd.action!r}", cmd)
        if cmd.station_id != self.station_id:
            raise Rejected("wrong_station", f"addressed to {cmd.station_id!r}", cmd)
        now = self.clock()
        if now > cmd.expires_at:
            raise Rejected("expired", f"expired at {cmd.expires_at.isoformat()}", cmd)
        if cmd.issued_at > now + timedelta(seconds=self.clock_skew_s):
            raise Rejected("not_yet_valid", f"issued in the future ({cmd.issued_at.isoformat()})", cmd)
        route = self.routes.get(cmd.action)
        lifetime = (cmd.expires_at - cmd.issued_at).total_seconds()
        limit = route.max_lifetime_s if route else self.max_lifetime_s
        if lifetime > limit:
            raise Rejected("lifetime_too_long", f"valid for {lifetime:.0f} s, at most {limit:.0f} s allowed", cmd)
        last = await self.db.read(lambda s: inbox.last_issuer_seq(s, cmd.issuer))
        if cmd.issuer_seq <= last:
            raise Rejected("out_of_order", f"issuer_seq {cmd.issuer_seq} <= last accepted {last}", cmd)
        if route is None:
            raise Rejected("unknown_action", f"no action {cmd.action!r}", cmd)
        try:
            params = route.params.model_validate(cmd.params) if route.params else cmd.params
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise Rejected("invalid_params", problems, cmd) from None
        return route, params

    async def _reject(self, rej: Rejected) -> dict[str, Any]:
        cmd = rej.cmd
        cmd_id, action = (cmd.cmd_id, cmd.action) if cmd else (_str_or_none(rej.hint[0]), _str_or_none(rej.hint[1]))
        envelope = result_envelope(self.station_id, cmd_id, action, REJECTED, reason=rej.reason, detail=rej.detail)
        log.warning("command %s rejected: %s %s", cmd_id or "?", rej.reason, rej.detail)
        if cmd is not None:  # signature verified: remember it so a duplicate gets the same answer
            await self.db.write(lambda s: inbox.record(s, cmd, REJECTED, envelope))
        return envelope

    async def _execute(self, cmd: VerifiedCommand, route: Route, params: Any) -> dict[str, Any]:
        ctx = CommandContext(self, cmd, params)
        log.info("command %s %s from %s (seq %d)", cmd.cmd_id, cmd.action, cmd.issuer, cmd.issuer_seq)
        try:
            result = await route.handler(params, ctx)
        except CommandError as exc:
            return await self._finish(ctx, ctx.envelope(FAILED, reason=exc.code, detail=exc.detail))
        except inbox.StaleSequence as exc:
            return await self._reject(Rejected("out_of_order", str(exc), cmd))
        except Exception as exc:
            log.exception("command %s (%s) failed", cmd.cmd_id, cmd.action)
            return await self._finish(ctx, ctx.envelope(FAILED, reason="internal_error", detail=type(exc).__name__))
        if ctx.finished is not None:
            return ctx.finished
        return await self._finish(ctx, ctx.envelope(DONE, result))

    async def _finish(self, ctx: CommandContext, envelope: dict[str, Any]) -> dict[str, Any]:
        await self.db.write(lambda s: inbox.record(s, ctx.cmd, envelope["status"], envelope))
        ctx.finished = envelope
        return envelope

    async def recover(self) -> list[dict[str, Any]]:
        """At start-up: commands accepted but never finished fail as 'interrupted' (never re-run:
        a door may or may not have opened; the door service's own records say which)."""

        def _recover(session: Session) -> list[dict[str, Any]]:
            results = []
            for row in inbox.interrupted(session):
                envelope = result_envelope(
                    self.station_id,
                    row.cmd_id,
                    row.action,
                    FAILED,
                    reason="interrupted",
                    detail="the station stopped before the result was recorded; not re-run",
                )
                row.status, row.result = FAILED, envelope
                results.append(envelope)
            return results

        return await self.db.write(_recover)


def _envelope(payload: bytes) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """The signed-command envelope, or {} and (reason, detail): checked in order size, encoding, JSON.

    The size is checked before anything is decoded; an oversized payload is never parsed.
    """
    if len(payload) > MAX_COMMAND_BYTES:
        return {}, ("too_large", f"{len(payload)} bytes; a command may have at most {MAX_COMMAND_BYTES} bytes")
    try:
        text = utf8_text(payload)
    except ValueError as exc:
        return {}, ("not_utf8", str(exc))
    try:
        return decode_text(text), None
    except ValueError as exc:
        return {}, ("malformed", f"not a JSON object: {exc}")


def _parse_body(body_text: Any) -> dict[str, Any] | None:
    if not isinstance(body_text, str):
        return None
    try:
        return decode_text(body_text)
    except ValueError:
        return None


def _str_or_none(value: Any) -> str | None:
    return value[:64] if isinstance(value, str) else None


def _text(body: dict[str, Any], key: str) -> str:
    value = body[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _seq(body: dict[str, Any]) -> int:
    value = body["issuer_seq"]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError("issuer_seq must be a positive integer")
    return value
