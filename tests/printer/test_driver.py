"""The Printer driver against the simulator over real TCP sockets and ptys, fault by fault."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator

import pytest

from drivers.printer import DuplicateJob, Fault, Printer, PrintFailed, PrintRefused
from simulators.printer import PrinterSimulator

TIMEOUT_S = 0.2
JOB = b"\x1b@\x1bt\x13Hallo " + "Grüße €".encode("cp858") + b"\n\x1bd\x06\x1dV\x00"


@pytest.fixture(params=["tcp", "pty"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PrinterSimulator, Printer]]:
    sim = PrinterSimulator(seed=3, late_s=0.5)
    url = await (sim.start_tcp() if request.param == "tcp" else sim.start_pty())
    printer = Printer(url, name=f"test-{request.param}", status_timeout_s=TIMEOUT_S)
    yield sim, printer
    await printer.stop()
    await sim.stop()


def _payload_received(sim: PrinterSimulator) -> bytes:
    """What reached the printer apart from status queries."""
    data = bytes(sim.received)
    for n in (1, 2, 3, 4):
        data = data.replace(bytes([0x10, 0x04, n]), b"")
    return data


async def test_healthy_job_is_checked_before_and_after(rig) -> None:
    sim, printer = rig
    result = await printer.print_job("sale-1", JOB)
    assert result.bytes_sent == len(JOB) and result.before.ok and result.after.ok
    assert sim.status_queries == [1, 2, 4, 1, 2, 3, 4]
    [job] = sim.jobs
    assert job.printed and job.text == ["Hallo Grüße €"] and job.cuts == ["full"]
    assert bytes(job.raw) == JOB
    assert printer.availability.available is True and printer.jobs_printed == 1


async def test_blocking_io_runs_in_a_named_worker_thread(rig) -> None:
    _sim, printer = rig
    await printer.status()
    assert f"serial-{printer.name}" in " ".join(t.name for t in threading.enumerate())


@pytest.mark.parametrize(
    ("knobs", "fault"),
    [
        ({"paper": "out"}, Fault.PAPER_OUT),
        ({"cover_open": True}, Fault.COVER_OPEN),
        ({"offline": True}, Fault.OFFLINE),
        ({"cutter_error": True}, Fault.CUTTER_ERROR),
        ({"unrecoverable": True}, Fault.UNRECOVERABLE_ERROR),
        ({"reply": "silent"}, Fault.NO_ANSWER),
        ({"reply": "garbage"}, Fault.INVALID_REPLY),
    ],
)
async def test_a_fault_before_the_job_refuses_it_and_sends_nothing(rig, knobs: dict, fault: Fault) -> None:
    sim, printer = rig
    sim.set_faults(**knobs)
    with pytest.raises(PrintRefused) as refused:
        await printer.print_job("sale-2", JOB)
    assert refused.value.fault is fault and refused.value.bytes_sent == 0 and refused.value.stage == "before"
    assert fault.value in str(refused.value)
    assert sim.jobs == [] and _payload_received(sim) == b""
    assert printer.availability.available is False and printer.availability.last_error == fault.value


async def test_no_reply_is_no_answer_never_ok_and_costs_one_timeout(rig) -> None:
    sim, printer = rig
    sim.set_faults(reply="silent")
    started = time.monotonic()
    status = await printer.status()
    elapsed = time.monotonic() - started
    assert not status.ok and status.fault is Fault.NO_ANSWER
    assert status.paper is None and status.online is None
    assert sim.status_queries == [1]  # a silent printer is not asked three times
    assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 0.3


async def test_paper_replaced_makes_it_print_again(rig, caplog: pytest.LogCaptureFixture) -> None:
    sim, printer = rig
    caplog.set_level(logging.INFO, logger="drivers.printer.driver")
    sim.set_faults(paper="out")
    with pytest.raises(PrintRefused):
        await printer.print_job("sale-3", JOB)
    with pytest.raises(PrintRefused):
        await printer.print_job("sale-3", JOB)  # still out: refused again, not marked as sent
    sim.replace_paper()
    result = await printer.print_job("sale-3", JOB)
    assert result.after.ok and [job.text for job in sim.printed_jobs] == [["Hallo Grüße €"]]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is down: paper_out" in m for m in messages) == 1  # logged once, not per refusal
    assert sum(m.endswith("is back") for m in messages) == 1


async def test_paper_running_out_during_the_job_fails_it_after_sending(rig) -> None:
    sim, printer = rig
    sim.replace_paper(lines=3)  # the job needs 1 text line + 6 feed lines
    with pytest.raises(PrintFailed) as failed:
        await printer.print_job("sale-4", JOB)
    assert failed.value.fault is Fault.PAPER_OUT and failed.value.bytes_sent == len(JOB)
    assert failed.value.stage == "after" and sim.jobs[0].printed is False
    with pytest.raises(DuplicateJob):  # its bytes went out: never sent a second time
        await printer.print_job("sale-4", JOB)
    assert len(sim.jobs) == 1


async def test_near_end_prints_and_reports_it(rig) -> None:
    sim, printer = rig
    sim.set_faults(paper="near_end")
    result = await printer.print_job("sale-5", JOB)
    assert result.paper_near_end and result.after.replies[4] == 0x1E


async def test_a_late_reply_is_flushed_not_taken_for_the_next_answer(rig, caplog: pytest.LogCaptureFixture) -> None:
    sim, printer = rig
    caplog.set_level(logging.DEBUG, logger="drivers.printer.driver")
    sim.set_faults(reply="late", cover_open=True)  # the late byte says "offline" (1A)
    status = await printer.status([1])
    assert status.fault is Fault.NO_ANSWER
    sim.set_faults(reply="normal", cover_open=False)
    await sim.wait_until(lambda: sim.late_replies_sent == 1)
    await asyncio.sleep(0.05)  # the byte's way through the socket or pty into the driver's input buffer
    status = await printer.status()
    assert status.ok and status.replies == {1: 0x12, 2: 0x12, 4: 0x12}
    assert any("dropped 1a before DLE EOT 1" in r.getMessage() for r in caplog.records)


async def test_cutter_error_before_a_job_is_named_by_asking_n3() -> None:
    async with PrinterSimulator() as sim:
        printer = Printer(await sim.start_tcp(), status_timeout_s=TIMEOUT_S)
        sim.set_faults(cutter_error=True)
        status = await printer.status()
        assert status.replies == {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12} and status.fault is Fault.CUTTER_ERROR
        await printer.stop()


async def test_a_network_printer_that_restarts_is_reconnected() -> None:
    async with PrinterSimulator() as sim:
        url = await sim.start_tcp()
        printer = Printer(url, status_timeout_s=TIMEOUT_S)
        assert (await printer.status()).ok
        sim.drop_connections()  # the printer restarts
        dropped = await printer.status()
        assert dropped.fault is Fault.PORT_UNAVAILABLE and "disconnected" in (dropped.detail or "")
        assert (await printer.status()).ok  # reopened on the next call
        await printer.print_job("after-restart", JOB)
        assert sim.printed_jobs[-1].text == ["Hallo Grüße €"]
        await printer.stop()


async def test_a_port_that_does_not_exist_is_a_state_not_a_crash(tmp_path) -> None:
    printer = Printer(str(tmp_path / "no-such-tty"), status_timeout_s=TIMEOUT_S)
    status = await printer.start()
    assert status.fault is Fault.PORT_UNAVAILABLE and printer.availability.available is False
    with pytest.raises(PrintRefused) as refused:
        await printer.print_job("x", JOB)
    assert refused.value.fault is Fault.PORT_UNAVAILABLE
    snapshot = printer.snapshot()
    assert snapshot.status is not None and snapshot.status["fault"] == "port_unavailable"
    assert snapshot.availability.available is False and snapshot.jobs_printed == 0
    await printer.stop()


async def test_concurrent_callers_never_interleave_a_query_with_job_bytes(rig) -> None:
    sim, printer = rig
    other = JOB.replace(b"Hallo", b"Zweit")
    results = await asyncio.gather(
        printer.print_job("a", JOB), printer.status(), printer.print_job("b", other), printer.status()
    )
    assert [r.job_id for r in results[::2]] == ["a", "b"] and all(s.ok for s in results[1::2])
    assert JOB in sim.received and other in sim.received  # each job's bytes arrived in one piece
    assert [job.text for job in sim.printed_jobs] == [["Hallo Grüße €"], ["Zweit Grüße €"]]
