"""The runtime component: the start-up heap frozen out of the collector's sight, every pause measured."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from station.runtime import THRESHOLDS, Runtime


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone for the tests after it."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_start_freezes_the_heap_and_every_collection_is_measured(collector: None) -> None:
    runtime = Runtime()
    await runtime.start()
    try:
        assert gc.get_freeze_count() > 10_000  # the test process's modules, at least
        assert gc.get_threshold() == THRESHOLDS
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


async def test_without_freezing_the_collector_is_left_as_it_is(collector: None) -> None:
    thresholds = gc.get_threshold()
    runtime = Runtime(freeze=False)
    await runtime.start()
    await runtime.stop()
    assert gc.get_threshold() == thresholds and runtime.frozen == gc.get_freeze_count()
