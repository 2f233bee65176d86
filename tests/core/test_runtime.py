"""The runtime component: the start-up heap frozen out of the collector's sight, every pause measured."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.runtime import SWITCH_INTERVAL_S, THRESHOLDS, Runtime, current_rss_mb
from tests.conftest import REPO


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone for the tests after it."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_start_freezes_the_heap_and_every_collection_is_measured(collector: None) -> None:
    interval = sys.getswitchinterval()
    runtime = Runtime()
    await runtime.start()
    try:
        assert gc.get_freeze_count() > 10_000  # the test process's modules, at least
        assert gc.get_threshold() == THRESHOLDS
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S  # a waiting thread gets the lock within 1 ms
        before = runtime.health().detail["gc_collections"][2]
        gc.collect()
        detail = runtime.health().detail
        assert detail["gc_collections"][2] == before + 1
        assert detail["gc_longest_pause_ms"][2] > 0
        assert detail["gc_frozen_objects"] == runtime.frozen > 10_000
    finally:
        await runtime.stop()
    gc.collect()  # no longer counted once stopped
    assert runtime.health().detail["gc_collections"][2] == before + 1
    assert gc.get_freeze_count() == 0 and gc.get_threshold() != THRESHOLDS  # as it was before
    assert sys.getswitchinterval() == interval != SWITCH_INTERVAL_S


async def test_without_freezing_the_collector_is_left_as_it_is(collector: None) -> None:
    thresholds = gc.get_threshold()
    runtime = Runtime(freeze=False)
    await runtime.start()
    await runtime.stop()
    assert gc.get_threshold() == thresholds and runtime.frozen == gc.get_freeze_count()


async def test_the_daemon_gives_freed_c_heap_back_to_the_system(collector: None) -> None:
    runtime = Runtime()
    if runtime.libc is None:
        pytest.skip("not glibc: nothing to trim")
    blocks = [bytes(2000) + bytes([i % 256]) for i in range(40_000)]  # about 80 MB in the C heap
    kept = blocks[::50]  # a few stay, so the heap cannot simply shrink from its top
    del blocks
    before = current_rss_mb()
    runtime.trim()
    assert current_rss_mb() < before - 30  # the pages between the kept blocks went back
    assert runtime.health().detail["malloc_trims"] == 1
    assert runtime.health().detail["longest_malloc_trim_ms"] > 0
    assert len(kept) == 800


PIN_CHECKS = """
import sys
import threading
from pathlib import Path
from station.runtime import Runtime, current_rss_mb
from station.staff import pins
from station.staff.secret import StationSecret

runtime = Runtime()
secret = StationSecret(Path(sys.argv[1]) / "station.key")
stored = pins.hash_pin(secret, "482915")
grown = []

def checks():  # in a worker thread, as the daemon's database and hashing work runs
    before = current_rss_mb()
    for _ in range(3):
        pins.verify_pin(secret, stored, "482915")
    grown.append(current_rss_mb() - before)

worker = threading.Thread(target=checks)
worker.start()
worker.join()
print(grown[0])
"""


def test_pin_checks_give_their_argon2_memory_back_at_once(tmp_path: Path) -> None:
    """Each Argon2id check takes 19 MiB; with glibc's moving threshold the second one's stayed in the heap."""
    if Runtime().libc is None:
        pytest.skip("not glibc")
    out = subprocess.run(
        [sys.executable, "-c", PIN_CHECKS, str(tmp_path)], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert float(out.stdout) < 5, f"RSS grew by {out.stdout.strip()} MB after three PIN checks"


def test_current_rss_is_the_kernels_vmrss() -> None:
    """statm's resident pages, read for every health request, are what the status file calls VmRSS."""
    ballast = bytearray(64 * 1024 * 1024)  # 64 MB touched: a figure far from any rounding
    ballast[:: 4096] = b"\x01" * (len(ballast) // 4096)
    with open("/proc/self/status") as status:
        vmrss_mb = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    assert abs(current_rss_mb() - vmrss_mb) < 1.0
    assert current_rss_mb() > 64
    del ballast
