"""Capped exponential backoff with full jitter."""

from __future__ import annotations

import random


class Backoff:
    """delay(n) = uniform(0, min(cap, base * factor**n)); reset() after a success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, factor: float = 2.0, rng: random.Random | None = None):
        self.base, self.cap, self.factor = base, cap, factor
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * self.factor**self.attempt)
        self.attempt = min(self.attempt + 1, 64)
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0
