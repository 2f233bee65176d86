"""`station ops ...`: the operator console (stations, alarms, events, signed commands, keys)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tomllib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_BROKER = "127.0.0.1:1883"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `ops` command (with its own sub-commands) to `station`."""
    ops = sub.add_parser("ops", help="operator console: stations, events, signed commands, keys")
    ops_sub = ops.add_subparsers(dest="ops_command", required=True, metavar="ACTION")

    keygen = ops_sub.add_parser("keygen", help="generate an Ed25519 operator key pair")
    keygen.add_argument("--out", type=Path, required=True, help="private key file to create (PEM, mode 0600)")
    keygen.add_argument("--issuer", default="ops", help="issuer name the stations pin the key under")
    keygen.set_defaults(handler=cmd_keygen)

    stations = ops_sub.add_parser("stations", help="list stations with presence and open alarms")
    _broker_options(stations)
    stations.add_argument("--listen", type=float, default=1.5, help="seconds to collect retained state")
    stations.set_defaults(handler=cmd_stations)

    watch = ops_sub.add_parser("watch", help="print events, telemetry, presence and command results")
    _broker_options(watch)
    watch.add_argument("--station", default="+", help="one station id (default: all)")
    watch.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    watch.set_defaults(handler=cmd_watch)

    platform = ops_sub.add_parser("platform", help="run the reference platform consumer (dedupe, gaps, acks)")
    _broker_options(platform)
    platform.add_argument("--store", type=Path, required=True, help="SQLite file of the platform store")
    platform.add_argument("--client-id", default="platform-ingest")
    platform.set_defaults(handler=cmd_platform)

    app_key = ops_sub.add_parser("app-key", help="print a station's app key (pinned by the platform)")
    app_key.add_argument("--config", type=Path, required=True, help="the station's config file")
    app_key.set_defaults(handler=cmd_app_key)

    send = ops_sub.add_parser("send", help="sign and send a command to one station, print its result")
    _broker_options(send)
    send.add_argument("--key", type=Path, required=True, help="operator private key (from `ops keygen`)")
    send.add_argument("--issuer", default="ops")
    send.add_argument("--station", required=True)
    send.add_argument("--lifetime", type=float, default=120.0, help="seconds the command stays valid")
    send.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the result")
    send.add_argument("--seq-file", type=Path, default=None, help="issuer sequence state (default: KEY.seq)")
    actions = send.add_subparsers(dest="action", required=True, metavar="COMMAND")
    _action_parsers(actions)
    send.set_defaults(handler=cmd_send)


def _broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker", action="append", default=None, help=f"HOST:PORT, repeatable (default {DEFAULT_BROKER})"
    )
    parser.add_argument("--protocol", default="auto", choices=["auto", "5", "3.1.1"])
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--tls-ca", type=Path)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--prefix", default="station", help="topic prefix")


def _action_parsers(actions: argparse._SubParsersAction) -> None:
    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=help_text)

    p = add("open-compartment", "pulse one door open (needs an incident reference)")
    p.add_argument("--compartment", type=int, required=True)
    p.add_argument("--reference", required=True)
    p = add("block-compartment", "block a compartment")
    p.add_argument("--compartment", type=int, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--reference")
    p = add("unblock-compartment", "unblock a compartment")
    p.add_argument("--compartment", type=int, required=True)
    p.add_argument("--reference")
    p = add("set-prices", "change prices: --price GTIN=CENTS (repeatable)")
    p.add_argument("--price", action="append", required=True)
    p = add("set-catalogue", "upsert products from a JSON file (a list of products)")
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--replace", action="store_true", help="deactivate products not listed")
    p = add("create-order", "announce a pick-up order")
    p.add_argument("--external-id", required=True)
    p.add_argument("--kind", default="order", choices=["order", "parcel"])
    p.add_argument("--compartment", type=int)
    p.add_argument("--amount-cents", type=int, default=0)
    p.add_argument("--size", choices=["S", "M", "L", "XL"], help="smallest compartment size it fits")
    p.add_argument("--zone", help="temperature zone as the station names it (none: ambient)")
    p.add_argument("--pickup-code", help="the customer's typed code, 10-16 digits (sent signed; stored hashed)")
    p.add_argument("--qr-token", help="the customer's QR token (base64url, at least 128 bits)")
    p.add_argument("--card-uid", help="UID of the customer's NFC card (hex)")
    p.add_argument("--valid-hours", type=float, help="valid for this many hours from now, then it goes back")
    p = add("cancel-order", "cancel a pick-up order")
    p.add_argument("--external-id", required=True)
    p.add_argument("--reason")
    add("snapshot", "ask for a full state snapshot")
    p = add("config-overlay", "store a configuration overlay (TOML or JSON file) on the station")
    p.add_argument("--file", type=Path, required=True)
    p.add_argument("--version")
    p = add("redeem-voucher", "redeem a station's voucher elsewhere (e.g. at the village shop)")
    p.add_argument("--code", required=True, help="the voucher's 13 digits")
    p.add_argument("--reference", required=True, help="where and for what (the same reference again is idempotent)")
    p = add("void-voucher", "void an issued voucher")
    p.add_argument("--code", required=True)
    p.add_argument("--reason", required=True)
    p = add("confirm-app-payment", "confirm an app payment (as the platform does once the app paid)")
    p.add_argument("--request", help="the QR code's content (JSON text, or @FILE): sale, station and amount from it")
    p.add_argument("--station-key", help="the station's app key (from `station ops app-key`): verify the request")
    p.add_argument("--sale-id", help="without --request: the sale shown on the station's screen")
    p.add_argument("--amount-cents", type=int, help="without --request: the amount shown")
    p.add_argument("--payment-id", help="the platform's payment id (default: a new one)")
    p.add_argument("--age-verified", type=int, choices=[16, 18], help="the platform checked the payer's age")
    p = add("close-app-refund", "answer a station's refund request")
    p.add_argument("--refund-id", required=True)
    p.add_argument("--declined", action="store_true", help="refused (default: paid back)")
    p.add_argument("--reference")
    p = add("register-customer-card", "register a customer card after checking the holder's ID")
    p.add_argument("--uid", required=True, help="the card's UID in hex")
    p.add_argument("--min-age", type=int, choices=[16, 18], required=True)
    p.add_argument("--checked-by", required=True, help="who checked the ID")
    p = add("revoke-customer-card", "a customer card proves no age any more")
    p.add_argument("--uid", required=True)


def action_params(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The wire action name and params for the parsed `ops send` sub-command."""
    a = args.action
    if a == "open-compartment":
        return "open_compartment", {"compartment_id": args.compartment, "reference": args.reference}
    if a == "block-compartment":
        params = {"compartment_id": args.compartment, "reason": args.reason, "reference": args.reference}
        return "block_compartment", params
    if a == "unblock-compartment":
        return "unblock_compartment", {"compartment_id": args.compartment, "reference": args.reference}
    if a == "set-prices":
        prices = []
        for item in args.price:
            gtin, _, cents = item.partition("=")
            prices.append({"gtin": gtin, "price_cents": int(cents)})
        return "set_prices", {"prices": prices}
    if a == "set-catalogue":
        return "set_catalogue", {"products": json.loads(args.file.read_text()), "replace": args.replace}
    if a == "create-order":
        params = {
            "external_id": args.external_id,
            "kind": args.kind,
            "compartment_id": args.compartment,
            "amount_due_cents": args.amount_cents,
        }
        optional = {"size": args.size, "zone": args.zone, "pickup_code": args.pickup_code,
                    "qr_token": args.qr_token, "card_uid": args.card_uid}
        params.update({key: value for key, value in optional.items() if value is not None})
        if args.valid_hours is not None:
            until = datetime.now(UTC) + timedelta(hours=args.valid_hours)
            params["expires_at"] = until.isoformat(timespec="seconds")
        return "create_order", params
    if a == "cancel-order":
        return "cancel_order", {"external_id": args.external_id, "reason": args.reason}
    if a == "snapshot":
        return "request_snapshot", {}
    if a == "config-overlay":
        text = args.file.read_text()
        overlay = tomllib.loads(text) if args.file.suffix == ".toml" else json.loads(text)
        return "apply_config_overlay", {"overlay": overlay, "version": args.version}
    if a == "redeem-voucher":
        return "redeem_voucher", {"code": args.code, "reference": args.reference}
    if a == "void-voucher":
        return "void_voucher", {"code": args.code, "reason": args.reason}
    if a == "confirm-app-payment":
        return "confirm_app_payment", _confirmation(args)
    if a == "close-app-refund":
        return "close_app_refund", {"refund_id": args.refund_id, "refunded": not args.declined,
                                    "reference": args.reference}
    if a == "register-customer-card":
        return "register_customer_card", {"uid": args.uid, "min_age": args.min_age, "checked_by": args.checked_by}
    if a == "revoke-customer-card":
        return "revoke_customer_card", {"uid": args.uid}
    raise ValueError(f"unknown action {a}")


def _confirmation(args: argparse.Namespace) -> dict[str, Any]:
    from central.apppay import confirmation_params, read_request

    if args.request:
        text = Path(args.request[1:]).read_text() if args.request.startswith("@") else args.request
        body = read_request(text, args.station_key)
    elif args.sale_id and args.amount_cents is not None:
        body = {"sale_id": args.sale_id, "station_id": args.station, "amount_cents": args.amount_cents}
    else:
        raise SystemExit("confirm-app-payment needs --request, or --sale-id and --amount-cents")
    return confirmation_params(body, payment_id=args.payment_id, age_verified=args.age_verified)


def cmd_app_key(args: argparse.Namespace) -> int:
    """Print a station's app key (the platform pins it to verify payment and refund requests)."""
    from ..config import ConfigError, load_config
    from ..purchase.apprequest import RequestSigner
    from ..staff.secret import SecretError, StationSecret

    try:
        config = load_config(args.config)
        secret = StationSecret(config.staff.secret_path(config.database.path))
        print(RequestSigner.from_secret(secret).public_key_text())
    except (ConfigError, SecretError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _access(args: argparse.Namespace, client_id: str):  # -> BrokerAccess
    from central.console import BrokerAccess
    from sync.connector import Endpoint
    from sync.mqttio import ConnectOptions, TlsFiles

    endpoints = []
    for item in args.broker or [DEFAULT_BROKER]:
        host, _, port = item.rpartition(":")
        endpoints.append(Endpoint(host or "127.0.0.1", int(port), args.protocol))
    tls = TlsFiles(args.tls_ca, args.tls_cert, args.tls_key) if args.tls_ca else None
    options = ConnectOptions(client_id=client_id, clean=True, username=args.username, password=args.password, tls=tls)
    return BrokerAccess(endpoints, options, args.prefix)


def _client_id(kind: str) -> str:
    return f"ops-{kind}-{uuid.uuid4().hex[:8]}"


def cmd_keygen(args: argparse.Namespace) -> int:
    from sync.signing import generate_key, public_key_text, save_private_key

    key = generate_key()
    try:
        save_private_key(key, args.out)
    except FileExistsError:
        print(f"{args.out} exists; refusing to overwrite an operator key", file=sys.stderr)
        return 2
    print(f"private key written to {args.out} (keep it off the stations and the broker)")
    print("pin it on every station under [mqtt.operator_keys]:")
    print(f'{args.issuer} = "{public_key_text(key)}"')
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from central.console import next_issuer_seq, send_command
    from sync.mqttio import ConnectError
    from sync.signing import load_private_key

    action, params = action_params(args)
    key = load_private_key(args.key)
    seq = next_issuer_seq(args.seq_file or args.key.with_name(args.key.name + ".seq"))
    access = _access(args, _client_id("send"))
    try:
        results = asyncio.run(
            send_command(
                access,
                key,
                issuer=args.issuer,
                issuer_seq=seq,
                station_id=args.station,
                action=action,
                params=params,
                lifetime_s=args.lifetime,
                wait_s=args.wait,
            )
        )
    except ConnectError as exc:
        print(f"cannot reach a broker: {exc}", file=sys.stderr)
        return 2
    if not results:
        print(f"no answer from {args.station} within {args.wait:.0f} s (offline? the command expires by itself)")
        return 2
    print(json.dumps(results[0], indent=2, ensure_ascii=False))
    return 0 if results[0]["status"] == "done" else 1


def cmd_stations(args: argparse.Namespace) -> int:
    from central.console import list_stations

    views = asyncio.run(list_stations(_access(args, _client_id("list")), args.listen))
    if not views:
        print("no station has published its state")
        return 0
    print(f"{'station':<20} {'state':<8} {'session':>7}  {'since':<25} alarms")
    for station_id in sorted(views):
        v = views[station_id]
        state = v.state or {}
        alarms = ", ".join(f"{a['kind']}@{a['subject']}" for a in v.alarms) or "-"
        line = f"{station_id:<20} {state.get('state', '?'):<8} {state.get('session', '?')!s:>7}  "
        print(line + f"{state.get('at', '?'):<25} {alarms}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from central.console import watch

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            watch(_access(args, _client_id("watch")), lambda line: print(line, flush=True), args.station, args.duration)
        )
    return 0


def cmd_platform(args: argparse.Namespace) -> int:
    from central.consumer import Platform

    access = _access(args, args.client_id)

    async def run() -> None:
        platform = Platform(
            access.endpoints,
            args.store,
            prefix=access.prefix,
            client_id=args.client_id,
            username=args.username,
            password=args.password,
            tls=access.options.tls,
        )
        await platform.start()
        print(f"platform consumer running, store {args.store}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await platform.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
