"""The configuration of mutation testing: mutation.toml's modules, their tests and declared equivalents."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "mutation.toml"


@dataclass(frozen=True)
class Equivalent:
    """A mutant no test can tell from the original, declared in mutation.toml with its reason."""

    function: str  # "name" or "Class.method"
    code: str  # the original source line (stripped) the mutation changes
    mutant: str  # the same line as the mutant has it
    reason: str


@dataclass(frozen=True)
class Module:
    path: str
    tests: list[str]
    functions: list[str] = field(default_factory=list)
    equivalent: list[Equivalent] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def mutant_globs(self) -> list[str]:
        """mutmut's names for the mutants of the measured functions (all functions when none are listed)."""
        if not self.functions:
            return []
        globs = []
        for name in self.functions:
            if "." in name:
                cls, method = name.split(".", 1)
                globs.append(f"{self.slug}.xǁ{cls}ǁ{method}__mutmut_*")
            else:
                globs.append(f"{self.slug}.x_{name}__mutmut_*")
        return globs


@dataclass(frozen=True)
class Settings:
    threshold: float
    time_limit_s: float
    test_timeout_s: float
    modules: list[Module]


def _glob(pattern: str) -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in REPO.glob(pattern))


def test_paths(module: Module) -> list[str]:
    """The module's test paths with glob patterns (`tests/payments/test_zvt_*.py`) expanded."""
    out: list[str] = []
    for entry in module.tests:
        for path in _glob(entry) if any(c in entry for c in "*?[") else [entry]:
            if path not in out:
                out.append(path)
    return out


def load_settings(path: Path = CONFIG) -> Settings:
    data = tomllib.loads(path.read_text())
    suites: dict[str, list[str]] = data.get("suites", {})
    modules = []
    for name, entry in data.get("modules", {}).items():
        tests: list[str] = []
        for test in entry["tests"]:
            if test.startswith("@") and test[1:] not in suites:
                raise SystemExit(f"mutation.toml: {name}: no suite {test[1:]!r} in [suites]")
            tests += suites[test[1:]] if test.startswith("@") else [test]
        entry = {**entry, "tests": tests}
        equivalents = []
        for item in entry.get("equivalent", []):
            if not str(item.get("reason", "")).strip():
                raise SystemExit(f"mutation.toml: {name}: an equivalent mutant needs a reason: {item}")
            equivalents.append(
                Equivalent(item["function"], item["code"].strip(), item["mutant"].strip(), item["reason"])
            )
        modules.append(Module(name, list(entry["tests"]), list(entry.get("functions", [])), equivalents))
    for module in modules:
        paths = [module.path, *(t for t in module.tests if not any(c in t for c in "*?["))]
        missing = [p for p in paths if not (REPO / p).exists()]
        if missing:
            raise SystemExit(f"mutation.toml: {module.path}: no such path {', '.join(missing)}")
    return Settings(
        float(data.get("threshold", 90.0)),
        float(data.get("time_limit_s", 1200)),
        float(data.get("test_timeout_s", 30)),
        modules,
    )


def select(settings: Settings, wanted: list[str]) -> list[Module]:
    """The modules named on the command line (a path, a slug or part of a path); all when none is."""
    if not wanted:
        return settings.modules
    chosen = []
    for want in wanted:
        matches = [m for m in settings.modules if want in (m.path, m.slug) or want in m.path]
        if not matches:
            raise SystemExit(f"no module in mutation.toml matches {want!r}; --list shows them")
        chosen += [m for m in matches if m not in chosen]
    return chosen
