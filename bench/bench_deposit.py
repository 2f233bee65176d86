"""Deposit return and receipts: a voucher receipt rendered and printed, and return sessions of 20 containers.

1. Voucher receipt: render a Pfandbon (template → ESC/POS through python-escpos `Dummy`, as the print
   queue does), then send it with the printer driver (status DLE EOT 1, 2, 4 before; the job; status
   1-4 after) to the printer simulator over TCP (a network printer) and over a pty (a serial one).
2. Return session: the whole station in this process (the real assembly, HTTP API), the deposit
   machine simulator on a Modbus line over TCP, the printer simulator. A scripted shopper inserts 20
   containers as fast as the machine takes them. Per container: credited by the machine → its FIFO
   event stored (SQLite, WAL + synchronous=FULL) and acknowledged. Per session: POST /api/returns →
   all 20 stored → finish → choose voucher → the voucher printed. The session poll interval is the
   production default (`[deposit] poll_s` = 0.25 s) unless `--poll-s` says otherwise; it dominates
   the per-container figure.

    .venv/bin/python bench/bench_deposit.py [--n 50] [--sessions 10] [--poll-s 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from deposit.voucher import build_code
from drivers.printer import Printer
from simulators.deposit import CATALOGUE, SimulatedDepositMachine
from simulators.printer import PrinterSimulator
from station.receipts import DepositItem, DepositVoucher, Shop, render_receipt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test rig: station + simulators in-process
from tests.returns.conftest import UNIT, running_station


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{name:<44}{len(ms):>6}{pct(ms, 0.5):>10.1f}{pct(ms, 0.99):>10.1f}{max(ms):>10.1f}"


def voucher_receipt(n: int) -> DepositVoucher:
    return DepositVoucher(shop=Shop("Dorfladen Musterdorf", ("Dorfstraße 1", "12345 Musterdorf"), "st-01"),
                          serial=f"{n:06d}", code=build_code(29, n, 135), amount_cents=135, at=dt.datetime.now(dt.UTC),
                          items=(DepositItem("Einweg", 3, 25), DepositItem("Mehrweg", 4, 15)))


async def bench_receipt(n: int, transport: str) -> dict[str, list[float]]:
    printer = PrinterSimulator(seed=1)
    url = await (printer.start_tcp() if transport == "tcp" else printer.start_pty())
    driver = Printer(url, name="bench", status_timeout_s=0.5, baudrate=115200)
    times: dict[str, list[float]] = {"render": [], "send": [], "total": [], "cold": []}
    try:
        await driver.start()
        t0 = time.perf_counter()
        render_receipt("deposit_voucher", voucher_receipt(0), "de")  # the first one loads python-escpos' tables
        times["cold"].append(time.perf_counter() - t0)
        for i in range(n):
            t0 = time.perf_counter()
            data = render_receipt("deposit_voucher", voucher_receipt(i), "de")
            t1 = time.perf_counter()
            await driver.print_job(f"bench-{transport}-{i}", data)
            t2 = time.perf_counter()
            times["render"].append(t1 - t0)
            times["send"].append(t2 - t1)
            times["total"].append(t2 - t0)
        assert len(printer.printed_jobs) == n
    finally:
        await driver.stop()
        await printer.stop()
    return times


class TimedMachine(SimulatedDepositMachine):
    """The simulated machine, noting when each container was credited and when its event was acknowledged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credited: dict[tuple[int, int], float] = {}
        self.acked: dict[tuple[int, int], float] = {}

    def finish_insert(self) -> Any:
        event = super().finish_insert()
        if event is not None:
            self.credited[event.key] = time.perf_counter()
        return event

    def _ack(self, seq: int) -> None:
        head = self.fifo[0].key if self.fifo else None
        super()._ack(seq)
        if head is not None and head[1] == seq:
            self.acked[head] = time.perf_counter()


async def bench_sessions(sessions: int, poll_s: float) -> dict[str, list[float]]:
    machine = TimedMachine(UNIT, fifo_capacity=16, seed=3)
    out: dict[str, list[float]] = {"container": [], "session": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with running_station(Path(tmp), machine=machine, poll_s=poll_s) as rig:
            for _ in range(sessions):
                t0 = time.perf_counter()
                return_id = (await rig.http.post("/api/returns")).json()["return_id"]
                await (await rig.feed([CATALOGUE[i % len(CATALOGUE)] for i in range(20)]))
                await rig.until(lambda rid=return_id: rig.counted(rid, 20), within=30, what="20 stored")
                await rig.http.post(f"/api/returns/{return_id}/finish")
                chosen = await rig.http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})
                receipt_id = chosen.json()["vouchers"][0]["receipt_id"]
                await rig.until(lambda r=receipt_id: _printed(rig, r), within=10, what="voucher printed")
                out["session"].append(time.perf_counter() - t0)
            out["container"] = [machine.acked[key] - machine.credited[key] for key in machine.credited]
            assert len(out["container"]) == 20 * sessions
    return out


async def _printed(rig: Any, receipt_id: str) -> bool:
    return bool((await rig.http.get(f"/api/receipts/{receipt_id}/data")).json()["print_state"] == "printed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="voucher receipts per transport")
    parser.add_argument("--sessions", type=int, default=10, help="return sessions of 20 containers")
    parser.add_argument("--poll-s", type=float, default=0.25, help="[deposit] poll_s during a session")
    args = parser.parse_args()
    header = f"{'measured':<44}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    print("voucher receipt: render (python-escpos Dummy) and send (status before/after) to the printer simulator")
    print(header)
    for transport in ("tcp", "pty"):
        times = asyncio.run(bench_receipt(args.n, transport))
        print(row(f"first render in the process ({transport})", times["cold"]))
        print(row(f"render voucher receipt ({transport})", times["render"]))
        print(row(f"send to printer incl. status ({transport})", times["send"]))
        print(row(f"render + send ({transport})", times["total"]))
    print(f"\nreturn sessions of 20 containers (deposit line over TCP, poll_s {args.poll_s:g} s)")
    print(header)
    sessions = asyncio.run(bench_sessions(args.sessions, args.poll_s))
    print(row("container: credited -> stored and acked", sessions["container"]))
    print(row("session: start -> 20 stored -> voucher printed", sessions["session"]))


if __name__ == "__main__":
    main()
