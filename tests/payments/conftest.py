"""Shared fixtures for the ZVT tests: a fast simulator and clients with fast timers."""

from __future__ import annotations

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
