"""Schemathesis against the live demo station: every answer is documented, in the documented shape."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.conftest import PYTHON, REPO

# Every check that applies to an API without authentication (ignored_auth and
# object_level_authorization need credentials to compare).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.allow_header_conformance,
    checks.use_after_free,
    checks.ensure_resource_availability,
]


# The published document (tests/core/test_docs.py keeps it current); the live station must serve it too.
DOCUMENT = REPO / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(DOCUMENT)


def test_the_station_serves_the_published_document(demo_station: str) -> None:
    with urllib.request.urlopen(f"{demo_station}/api/openapi.json", timeout=5) as resp:
        assert json.loads(resp.read()) == json.loads(DOCUMENT.read_text())


# The fixed-seed slice of the default run: ~50 cases per operation plus schemathesis's coverage cases
# (boundaries, wrong types, malformed bodies, other methods).
@schema.parametrize()
@settings(max_examples=50, deadline=5000, derandomize=True)
def test_every_answer_matches_the_schema(case: schemathesis.Case, demo_station: str) -> None:
    case.call_and_validate(base_url=demo_station, checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
# too_slow: the live server shares two cores with everything else the machine runs.
@settings(max_examples=400, deadline=5000, derandomize=False, suppress_health_check=[HealthCheck.too_slow])
def test_every_answer_matches_the_schema_long(case: schemathesis.Case, demo_station: str) -> None:
    case.call_and_validate(base_url=demo_station, checks=CHECKS)


@pytest.mark.slow
def test_the_schemathesis_cli_finds_nothing(demo_station: str, tmp_path: Path) -> None:
    """All phases (examples, coverage, fuzzing, stateful: a sale_id from POST fed into the other routes)."""
    run = subprocess.run(
        [
            PYTHON, "-m", "schemathesis.cli", "run", str(DOCUMENT), "--url", demo_station,
            "--checks", ",".join(c.__name__ for c in CHECKS), "--max-examples", "300", "--seed", "1",
            "--workers", "1", "--request-timeout", "20", "--report", "junit", "--report-dir", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    print(run.stdout[run.stdout.rfind("SUMMARY") :])  # shown with -s: operations, phases, case count
