"""The layer rules of docs/architecture.md, checked on every import statement of the code.

transport → codec → driver → service → API/UI/sync. Lower layers never import higher ones;
`sync` reaches services only through their modules (never the business tables); `central` (the
platform side) speaks only the MQTT contract. Composition roots (CLI, assembly, demo, simulate)
may wire everything together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

OURS = ("common", "drivers", "payments", "deposit", "simulators", "station", "sync", "central")

# package -> top-level packages of ours it may import
ALLOWED = {
    "common": {"common"},
    "drivers": {"common", "drivers"},
    "payments": {"common", "drivers", "payments"},
    "deposit": {"common", "drivers", "deposit"},
    "simulators": {"common", "drivers", "payments", "deposit", "simulators"},
    "station": {"common", "drivers", "payments", "deposit", "station"},
    "sync": {"common", "station", "sync"},
    "central": {"common", "sync", "central"},
}
# Composition roots: they build the daemon, the demo or the simulated hardware from all the parts.
COMPOSITION_ROOTS = ("station/cli/", "station/assembly.py", "station/demo.py", "station/simulate.py")
# Tables sync owns or only reads for delivery; every other table is written by its service.
SYNC_MAY_USE_MODELS = {"OutboxEvent", "InboxCommand", "IssuerState", "StationMeta", "Counter", "Priority"}


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    rel_parts = path.relative_to(REPO).with_suffix("").parts
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = rel_parts[: len(rel_parts) - node.level]
                if path.name == "__init__.py":
                    base = rel_parts[: len(rel_parts) - node.level + 1][:-1] if node.level > 1 else rel_parts[:-1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module, [a.name for a in node.names]))
    return found


def _violations(package: str) -> list[str]:
    problems = []
    for path in _modules(package):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(COMPOSITION_ROOTS):
            continue
        for line, module, names in _imports(path):
            top = module.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                problems.append(f"{rel}:{line} imports {module}")
            if package == "sync" and module == "station.db.models":
                extra = set(names) - SYNC_MAY_USE_MODELS
                if extra:
                    problems.append(f"{rel}:{line} uses business tables {sorted(extra)}: call their service")
    return problems


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    assert _violations(package) == []


def test_the_rule_catches_a_driver_importing_a_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: a driver module importing the service layer is reported."""
    fake_repo = tmp_path
    (fake_repo / "drivers").mkdir()
    (fake_repo / "drivers" / "bad.py").write_text("from station.purchase import PurchaseService\nimport common\n")
    (fake_repo / "sync").mkdir()
    (fake_repo / "sync" / "h.py").write_text("from station.db.models import Compartment, OutboxEvent\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["REPO"]), "REPO", fake_repo)
    assert _violations("drivers") == ["drivers/bad.py:1 imports station.purchase"]
    assert _violations("sync") == ["sync/h.py:1 uses business tables ['Compartment']: call their service"]
