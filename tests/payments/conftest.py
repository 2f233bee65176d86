"""Shared fixtures for the ZVT tests: a fast simulator and clients with fast timers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from payments.zvt import ZvtClient, ZvtSettings, ZvtTimers
from simulators.zvt import SimConfig, ZvtSimulator

FAST_TIMERS = ZvtTimers(t1_inter_byte=0.2, t2_frame_ack=0.5, t3_ack=1.0, t4_dialogue=2.0, decide_s=0.5, connect_s=1.0)
FAST_SIM = SimConfig(seed=7, step_s=0.005, card_wait_s=0.1, resend_s=0.05, ack_timeout_s=1.0, frame_ack_s=0.5)


@pytest.fixture
async def sim():
    simulator = ZvtSimulator(FAST_SIM)
    yield simulator
    await simulator.stop()


@pytest.fixture
async def tcp_url(sim):
    return await sim.start_tcp()


@pytest.fixture
async def make_client():
    """`make_client(url, **settings)`: a client with fast timers, closed after the test."""
    clients: list[ZvtClient] = []

    def factory(url: str, **settings) -> ZvtClient:
        timers = settings.pop("timers", FAST_TIMERS)
        zvt = ZvtClient(ZvtSettings(url=url, timers=timers, **settings))
        clients.append(zvt)
        return zvt

    yield factory
    for zvt in clients:
        await zvt.close()


@pytest.fixture
async def client(tcp_url, make_client):
    return make_client(tcp_url)


# --- a terminal scripted byte by byte over a real TCP socket ---------------------------------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, list[bytes]], Awaitable[None]]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


async def read_apdu(reader: asyncio.StreamReader) -> bytes:
    header = await reader.readexactly(3)
    return header + await reader.readexactly(header[2])


async def until(condition: Callable[[], bool], within_s: float = 1.0) -> None:
    """The fake terminal reads in its own task: give it a moment to record the last APDU."""
    async with asyncio.timeout(within_s):
        while not condition():
            await asyncio.sleep(0.01)


def replay(*replies: bytes) -> Script:
    """A terminal that answers each APDU it reads with the next reply (one or more APDUs, as bytes),
    then reads the ECR's answer to the last one and waits for the ECR to hang up."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: list[bytes]) -> None:
        for reply in replies:
            received.append(await read_apdu(reader))
            writer.write(reply)
            await writer.drain()
        received.append(await read_apdu(reader))
        await reader.read()

    return script


@pytest.fixture
async def fake_terminal():
    """`await fake_terminal(script)` -> (url, received APDUs)."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> tuple[str, list[bytes]]:
        received: list[bytes] = []

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer, received)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        servers.append(server)
        return f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}", received

    yield start
    for server in servers:
        server.close()
