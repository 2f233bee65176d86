"""Mutation testing from pytest (slow): one small module through scripts/mutation, as `scripts/test -m slow` runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_bcd_codec_scores_at_least_the_threshold() -> None:
    script = "scripts/mutation_testing.py"
    command = ["nice", "-n", "19", sys.executable, script, "--quiet", "-m", "payments/zvt/bcd.py"]
    proc = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| `payments/zvt/bcd.py` |" in proc.stdout
