"""paho-mqtt bridged into asyncio: the only module in the project that imports paho.

Design (Moonraker-style, no network thread): after the TCP/TLS connect, the paho socket is
registered with the event loop (`add_reader` → `loop_read`, `add_writer` only while paho has
bytes queued → `loop_write`) and a one-second timer drives `loop_misc` (keepalive pings).
Every paho callback therefore runs on the loop thread. The one blocking step, the TCP
connect plus TLS handshake inside `Client.connect()`, runs on the owner's single named
`mqtt-connect` worker thread; the loop does not touch the client until that call returns.

One `MqttConnection` is one connection attempt to one broker; reconnecting means a new
object. paho's in-memory queue is never relied upon: the database is the durable queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
from collections.abc import Callable, Collection
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from .mqtttypes import (
    ConnectError,
    ConnectOptions,
    ConnectResult,
    Incoming,
    NotConnected,
    ProtocolRejected,
    ReadBuffer,
    SubscribeRefused,
    TlsFiles,
    Will,
)

__all__ = [
    "MQTT5",
    "MQTT311",
    "ConnectError",
    "ConnectOptions",
    "ConnectResult",
    "Incoming",
    "MqttConnection",
    "NotConnected",
    "ProtocolRejected",
    "SubscribeRefused",
    "TlsFiles",
    "Will",
    "open_connection",
]

log = logging.getLogger(__name__)

MQTT5, MQTT311 = "5", "3.1.1"
_PAHO_PROTOCOL = {MQTT5: paho.MQTTv5, MQTT311: paho.MQTTv311}
_MISC_INTERVAL_S = 1.0


def _is_protocol_refusal(reason: ReasonCode | int) -> bool:
    value = reason.value if isinstance(reason, ReasonCode) else int(reason)
    return value in (1, 0x84)  # 3.1.1 "unacceptable protocol version"; MQTT 5 "unsupported protocol version"


class MqttConnection:
    """One connection to one broker, driven by the running event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        protocol: str,
        options: ConnectOptions,
        *,
        on_message: Callable[[Incoming], None] | None = None,
        on_puback: Callable[[int], None] | None = None,
    ) -> None:
        self.host, self.port, self.protocol, self.options = host, port, protocol, options
        self._on_message = on_message
        self._on_puback = on_puback
        self._loop = asyncio.get_running_loop()
        self._client = self._make_client()
        self._sock: Any = None
        self._buffer: ReadBuffer | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._connack: asyncio.Future[ConnectResult] = self._loop.create_future()
        self._subacks: dict[int, asyncio.Future[list[int]]] = {}
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self.connected = False

    # -- set-up ---------------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        opts, v5 = self.options, self.protocol == MQTT5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=opts.client_id,
            protocol=_PAHO_PROTOCOL[self.protocol],
            clean_session=None if v5 else opts.clean,
        )
        client.suppress_exceptions = True
        # With a cap, paho scans every unacknowledged message on each PUBACK looking for queued ones
        # (O(window) per message); the relay bounds its window itself, so it runs without one.
        client.max_inflight_messages_set(max(0, opts.inflight))
        client.max_queued_messages_set(0)
        client.connect_timeout = opts.connect_timeout_s
        if opts.username is not None:
            client.username_pw_set(opts.username, opts.password)
        if opts.will is not None:
            client.will_set(opts.will.topic, opts.will.payload, opts.will.qos, opts.will.retain)
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_message = self._cb_message
        client.on_subscribe = self._cb_subscribe
        return client

    def _blocking_connect(self) -> None:
        """Runs on the connect worker thread: TLS set-up, TCP connect, handshake, CONNECT sent."""
        opts, client = self.options, self._client
        if opts.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(opts.tls.ca_file))
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if opts.tls.cert_file is not None:
                context.load_cert_chain(str(opts.tls.cert_file), str(opts.tls.key_file) if opts.tls.key_file else None)
            client.tls_set_context(context)
        if self.protocol == MQTT5:
            props = Properties(PacketTypes.CONNECT)
            if opts.session_expiry_s:
                props.SessionExpiryInterval = opts.session_expiry_s
            client.connect(self.host, self.port, opts.keepalive_s, clean_start=opts.clean, properties=props)
        else:
            client.connect(self.host, self.port, opts.keepalive_s)

    async def connect(self, executor: concurrent.futures.Executor) -> ConnectResult:
        """Connect and wait for CONNACK; raises ConnectError (ProtocolRejected for a wrong version)."""
        where = f"{self.host}:{self.port}"
        job = self._loop.run_in_executor(executor, self._blocking_connect)
        try:
            await asyncio.wait_for(asyncio.shield(job), self.options.connect_timeout_s + 1)
        except asyncio.CancelledError:
            job.add_done_callback(lambda _f: self._close_socket())
            raise
        except TimeoutError:
            job.add_done_callback(lambda _f: self._close_socket())
            raise ConnectError(f"{where}: connect timed out") from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._close_socket()
            raise ConnectError(f"{where}: {exc}") from exc
        self._attach()
        try:
            return await asyncio.wait_for(asyncio.shield(self._connack), self.options.connect_timeout_s)
        except TimeoutError:
            self._close_socket()
            raise ConnectError(f"{where}: no CONNACK within {self.options.connect_timeout_s} s") from None
        except BaseException:
            self._close_socket()
            raise

    def _attach(self) -> None:
        """Hand the connected socket to the event loop (loop thread, after the connect call)."""
        client = self._client
        self._sock = client.socket()
        if self._sock is None:
            raise ConnectError(f"{self.host}:{self.port}: no socket after connect")
        client.on_socket_close = self._cb_socket_close
        client.on_socket_register_write = self._cb_register_write
        client.on_socket_unregister_write = self._cb_unregister_write
        if callable(getattr(client, "_sock_recv", None)):
            self._buffer = ReadBuffer(client._sock_recv)
            client._sock_recv = self._buffer.recv  # type: ignore[method-assign,assignment]
        self._loop.add_reader(self._sock, self._readable)
        if client.want_write():
            self._loop.add_writer(self._sock, self._writable)
        self._misc = self._loop.call_later(_MISC_INTERVAL_S, self._tick)

    # -- loop callbacks --------------------------------------------------------------------
    def _readable(self) -> None:
        self._client.loop_read()
        # Bytes already read into our buffer, or decrypted and held by TLS, no longer make the fd
        # readable: process them now (loop_read handles a bounded number of packets per call).
        for _ in range(10_000):
            if self._sock is None or not self._has_pending():
                break
            self._client.loop_read()

    def _has_pending(self) -> bool:
        if self._buffer is not None and self._buffer.pending():
            return True
        return isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0

    def _writable(self) -> None:
        self._client.loop_write()

    def _tick(self) -> None:
        self._misc = None
        if self._sock is None:
            return
        self._client.loop_misc()
        if self._sock is not None:
            self._misc = self._loop.call_later(_MISC_INTERVAL_S, self._tick)

    def _cb_register_write(self, _client: Any, _userdata: Any, sock: Any) -> None:
        self._loop.add_writer(sock, self._writable)

    def _cb_unregister_write(self, _client: Any, _userdata: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    def _cb_socket_close(self, _client: Any, _userdata: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._sock = None

    def _close_socket(self) -> None:
        """Tear down after a failed or abandoned connect (runs on the loop thread)."""
        sock = self._client.socket()
        if sock is not None:
            if self._sock is not None:
                self._loop.remove_reader(self._sock)
                self._loop.remove_writer(self._sock)
                self._sock = None
            try:
                sock.close()
            except OSError:
                pass
        self._finish("connect failed")

    # -- paho callbacks (loop thread) ---------------------------------------------------------
    def _cb_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, properties: Any) -> None:
        if self._connack.done():
            return
        if reason.is_failure:
            exc_type = ProtocolRejected if _is_protocol_refusal(reason) else ConnectError
            self._connack.set_exception(exc_type(f"{self.host}:{self.port} refused: {reason}"))
            return
        receive_max = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
        self.connected = True
        self._connack.set_result(ConnectResult(bool(flags.session_present), self.protocol, receive_max))

    def _cb_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._finish(str(reason))

    def _finish(self, reason: str) -> None:
        self.connected = False
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if not self._connack.done():
            self._connack.set_exception(ConnectError(f"{self.host}:{self.port}: connection closed ({reason})"))
            self._connack.exception()  # mark retrieved: nobody may be waiting any more
        for fut in self._subacks.values():
            if not fut.done():
                fut.set_exception(NotConnected(reason))
                fut.exception()
        self._subacks.clear()
        if not self.closed.done():
            self.closed.set_result(reason)

    def _cb_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _props: Any) -> None:
        if self._on_puback is not None:
            self._on_puback(mid)

    def _cb_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        props = getattr(msg, "properties", None)
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        try:
            self._on_message(Incoming(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), correlation))
        except Exception:  # a bad message must never break the network loop
            log.exception("handling a message on %s failed", msg.topic)

    def _cb_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[Any], _props: Any) -> None:
        fut = self._subacks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result([int(r.value) if isinstance(r, ReasonCode) else int(r) for r in reasons])

    # -- API ------------------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
        correlation: bytes | None = None,
    ) -> int:
        """Queue one PUBLISH; returns its mid (the PUBACK callback reports the same mid)."""
        if not self.connected:
            raise NotConnected(f"{self.host}:{self.port} is not connected")
        props = None
        if self.protocol == MQTT5 and (expiry_s or correlation):
            props = Properties(PacketTypes.PUBLISH)
            if expiry_s:
                props.MessageExpiryInterval = int(expiry_s)
            if correlation:
                props.CorrelationData = correlation
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise NotConnected(f"publish on {topic} failed: {paho.error_string(info.rc)}")
        return info.mid

    async def subscribe(
        self, topics: list[tuple[str, int]], wait_s: float = 10.0, *, retain_as_published: Collection[str] = ()
    ) -> list[int]:
        """Subscribe and wait for SUBACK; returns the granted QoS per topic.

        On MQTT 5 the filters named in `retain_as_published` get that subscription option: a message
        its publisher sent with retain=1 then arrives with the retain flag set even on a live
        subscription (MQTT 3.1.1 has no such option: the broker clears the flag on live delivery).
        Raises SubscribeRefused (naming the topics still to ask for) if the broker refused any of
        them or sent no SUBACK in time, NotConnected if the link is gone.
        """
        if not self.connected:
            raise NotConnected(f"{self.host}:{self.port} is not connected")
        request: list[tuple[str, Any]] = list(topics)
        if self.protocol == MQTT5:
            request = [(t, SubscribeOptions(qos=q, retainAsPublished=t in retain_as_published)) for t, q in topics]
        rc, mid = self._client.subscribe(request)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise NotConnected(f"subscribe failed: {paho.error_string(rc)}")
        fut: asyncio.Future[list[int]] = self._loop.create_future()
        self._subacks[mid] = fut
        try:
            granted = await asyncio.wait_for(fut, wait_s)
        except TimeoutError:
            self._subacks.pop(mid, None)
            raise SubscribeRefused(f"no SUBACK from {self.host}:{self.port} within {wait_s} s", topics) from None
        refused = [(t, q) for (t, q), code in zip(topics, granted, strict=False) if code >= 0x80]
        if refused:
            names = ", ".join(t for t, _q in refused)
            raise SubscribeRefused(f"{self.host}:{self.port} refused subscriptions: {names}", refused)
        return granted

    async def disconnect(self, wait_s: float = 2.0) -> None:
        """Clean DISCONNECT (suppresses the Will); waits briefly for the socket to close."""
        if self.closed.done():
            return
        if self.connected:
            self._client.disconnect()
            try:
                await asyncio.wait_for(asyncio.shield(self.closed), wait_s)
            except TimeoutError:
                pass
        self.abort()

    def abort(self) -> None:
        """Drop the connection without DISCONNECT (the broker publishes the Will)."""
        sock = self._sock
        if sock is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
            self._sock = None
            try:
                sock.close()
            except OSError:
                pass
        self._finish("aborted")


async def open_connection(
    host: str,
    port: int,
    protocol: str,
    options: ConnectOptions,
    executor: concurrent.futures.Executor,
    *,
    on_fallback: Callable[[str], None] | None = None,
    **callbacks: Any,
) -> tuple[MqttConnection, ConnectResult]:
    """Connect with `protocol` ("5", "3.1.1" or "auto": MQTT 5, falling back to 3.1.1 if refused).

    `on_fallback(version)` learns of a fallback at once, so that the next attempt starts there even
    if this one then fails for another reason (a NATS node still electing refuses both in turn).
    """
    versions = [MQTT5, MQTT311] if protocol == "auto" else [protocol]
    last: ConnectError | None = None
    for version, following in zip(versions, [*versions[1:], None], strict=True):
        conn = MqttConnection(host, port, version, options, **callbacks)
        try:
            return conn, await conn.connect(executor)
        except ProtocolRejected as exc:
            last = exc
            log.info("%s:%s refuses MQTT %s; trying the next version", host, port, version)
            if following is not None and on_fallback is not None:
                on_fallback(following)
    assert last is not None
    raise last
