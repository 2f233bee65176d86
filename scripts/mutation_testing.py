"""Mutation testing of the critical modules listed in mutation.toml (run through `scripts/mutation`).

Every module is mutated alone with mutmut, in its own scratch directory under `.mutation/`, and
checked against its own tests only. Afterwards each mutant is classified by comparing the syntax
tree of the mutated function with the original one:

* killed: a test failed (or the mutant hung and was stopped, or crashed the interpreter);
* excluded: every change the mutant makes falls under one of the rules below (docs/testing.md);
* survived: everything else, including mutants of functions no selected test calls.

Rules for excluded mutants (applied to every mutant, whatever its outcome):

* `message`: the change is only inside a log call (`log.warning(...)`, `self._log.info(...)`),
  or only inside a human-readable string (a literal with a space in it, or an f-string) that is
  part of a `raise` statement. Identifier-like strings (error codes such as "malformed") are
  behaviour and stay measured.
* `equivalent`: the mutant is declared in mutation.toml (`[[modules."<path>".equivalent]]` with
  the function, the original line, the mutated line and a required reason): for mutants no test
  can tell apart from the original, such as a value that is always overwritten before it is read.

score = killed / (mutants - excluded). The command exits 1 when a module scores below the
threshold, fails to run, or runs past its time limit.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "mutation.toml"
WORK = REPO / ".mutation"
PACKAGES = ["common", "drivers", "payments", "deposit", "simulators", "station", "sync", "central"]
# copied beside the mutated packages because tests read them (schemas, examples, unit files)
ALSO_COPY = ["docs", "examples", "systemd", "scripts", "README.md"]

KILLED = {"killed", "timeout", "segfault", "caught by type check"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
LOGGER = re.compile(r"^(self\.)?_?(log|logger)$")


# -- configuration ---------------------------------------------------------------------------------
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


# -- running mutmut --------------------------------------------------------------------------------
def _toml_list(items: list[str]) -> str:
    return json.dumps(items, ensure_ascii=False)  # a JSON list of strings is a TOML array


def prepare(module: Module, settings: Settings) -> Path:
    """A fresh scratch directory that looks like the repository, configured for this module."""
    work = WORK / module.slug
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in [*PACKAGES, *ALSO_COPY, "tests"]:
        if (REPO / name).exists():
            (work / name).symlink_to(REPO / name)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    pytest_ini = project["tool"]["pytest"]["ini_options"]
    pytest_lines = []
    for key, value in pytest_ini.items():
        if key in ("addopts", "timeout"):
            continue
        pytest_lines.append(f"{key} = {json.dumps(value)}")
    (work / "pyproject.toml").write_text(
        "\n".join(
            [
                "# generated by scripts/mutation_testing.py for " + module.path,
                "[tool.mutmut]",
                f"source_paths = {_toml_list(PACKAGES)}",
                f"only_mutate = {_toml_list([module.path])}",
                f"also_copy = {_toml_list([p for p in ALSO_COPY if (REPO / p).exists()])}",
                f"pytest_add_cli_args_test_selection = {_toml_list(test_paths(module))}",
                # the default run's options, a fixed Hypothesis seed: the same mutant gets the same verdict
                'pytest_add_cli_args = ["-m", "not slow", "-p", "no:cacheprovider", "--hypothesis-seed=0"]',
                "use_git_change_detection = false",
                "",
                "[tool.pytest.ini_options]",
                *pytest_lines,
                f"timeout = {int(settings.test_timeout_s)}",
                "",
            ]
        )
    )
    return work


def run_mutmut(module: Module, work: Path, settings: Settings, jobs: int) -> tuple[bool, float, str]:
    """Run mutmut for one module; (finished in time and cleanly, seconds, log path)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    command = [str(mutmut), "run", "--max-children", str(jobs), *module.mutant_globs()]
    log_path = work / "mutmut.log"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    with log_path.open("w") as log_file:
        # own process group: on the time limit the whole group (mutmut and its forked workers) stops
        proc = subprocess.Popen(command, cwd=work, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=settings.time_limit_s)
        except subprocess.TimeoutExpired:
            code = None
        finally:  # also on Ctrl-C or SIGTERM: leave no workers behind
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return code == 0, time.monotonic() - started, str(log_path)


# -- classifying mutants ---------------------------------------------------------------------------
@dataclass
class Mutant:
    name: str
    status: str
    excluded: str | None = None  # the rule that excludes it
    line: int = 0  # in the original source
    diff: str = ""


@dataclass
class Result:
    module: str
    mutants: int = 0
    killed: int = 0
    excluded: int = 0
    survived: list[Mutant] = field(default_factory=list)
    excluded_mutants: list[Mutant] = field(default_factory=list)
    excluded_by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    ran: bool = True
    note: str = ""

    @property
    def measured(self) -> int:
        return self.mutants - self.excluded

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.measured if self.measured else 100.0


def _functions(tree: ast.AST) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function by mutmut's name: `name` for functions, `xǁClassǁname` style names as given."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    def visit(node: ast.AST, cls: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found[f"{cls}.{child.name}" if cls else child.name] = child
                found.setdefault(child.name, child)

    visit(tree, None)
    return found


def differences(a: object, b: object, anchor: ast.AST) -> Iterator[ast.AST]:
    """Where two syntax trees of the same function differ: the smallest differing subtree of `a`, or
    its nearest ancestor with a position when it has none (operators such as `+` are shared objects)."""
    if isinstance(a, ast.AST) and hasattr(a, "lineno"):
        anchor = a
    if type(a) is not type(b):
        yield a if isinstance(a, ast.AST) and hasattr(a, "lineno") else anchor
        return
    if isinstance(a, ast.AST):
        pairs: list[tuple[object, object]] = []
        for name in a._fields:
            va, vb = getattr(a, name, None), getattr(b, name, None)
            if isinstance(va, list) and isinstance(vb, list):
                if len(va) != len(vb):
                    yield anchor
                    return
                pairs.extend(zip(va, vb, strict=True))
            elif isinstance(va, ast.AST) or isinstance(vb, ast.AST):
                pairs.append((va, vb))
            elif va != vb:
                yield anchor
                return
        for x, y in pairs:
            yield from differences(x, y, anchor)
    elif a != b:
        yield anchor


def _parents(fn: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(fn) for child in ast.iter_child_nodes(node)}


def _is_log_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LOG_METHODS
        and bool(LOGGER.match(ast.unparse(node.func.value)))
    )


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and any(c.isspace() for c in node.value)
    )


def message_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Is `node` log-call material, or inside human-readable text raised with an exception?"""
    chain = [node]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    if any(_is_log_call(n) for n in chain):
        return True
    raise_at = next((i for i, n in enumerate(chain) if isinstance(n, ast.Raise)), None)
    if raise_at is None:
        return False
    return any(_is_text(n) for n in chain[:raise_at])


def classify(module: Module, work: Path) -> Result:
    """Read mutmut's verdicts for one module and apply the exclusion rules."""
    from mutmut.stats import status_by_exit_code  # the tool's own exit-code table

    result = Result(module.path)
    meta = json.loads((work / "mutants" / (module.path + ".meta")).read_text())
    mutated = (work / "mutants" / module.path).read_text()
    source = (REPO / module.path).read_text()
    mutated_fns = {
        fn.name: fn for fn in ast.walk(ast.parse(mutated)) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    source_fns = _functions(ast.parse(source))
    globs = module.mutant_globs()
    for key, code in sorted(meta["exit_code_by_key"].items()):
        if globs and not any(fnmatch.fnmatch(key, g) for g in globs):
            continue
        name = key.rsplit(".", 1)[1]  # e.g. x_encode_bcd__mutmut_3 or xǁFrameDecoderǁfeed__mutmut_2
        base = name.rsplit("__mutmut_", 1)[0]
        original, mutant = mutated_fns[base + "__mutmut_orig"], mutated_fns[name]
        plain = base[2:] if base.startswith("x_") else base.removeprefix("xǁ").replace("ǁ", ".")
        in_source = source_fns.get(plain) or source_fns[plain.rsplit(".", 1)[-1]]
        offset = in_source.lineno - original.lineno
        parents = _parents(original)
        pairs = [(original.args, mutant.args), *zip(original.body, mutant.body, strict=False)]
        changed = [a for x, y in pairs for a in differences(x, y, original)]
        if len(original.body) != len(mutant.body) or not changed:
            changed = [original]  # a change of shape: the whole function counts as changed
        first = min(a.lineno for a in changed) + offset  # type: ignore[attr-defined]
        status = status_by_exit_code[code]
        entry = Mutant(key, status, line=first)
        declared = {(_signature(e.code), _signature(e.mutant)) for e in module.equivalent if e.function == plain}
        if declared and set(_changed_lines(mutated, original, mutant)) <= declared:
            entry.excluded = "equivalent"
        elif all(message_only(a, parents) for a in changed):
            entry.excluded = "message"
        result.mutants += 1
        if entry.excluded:
            entry.diff = _diff(mutated, original, mutant, offset)
            result.excluded_mutants.append(entry)
            result.excluded += 1
            result.excluded_by_rule[entry.excluded] = result.excluded_by_rule.get(entry.excluded, 0) + 1
        elif status in KILLED:
            result.killed += 1
        else:
            entry.diff = _diff(mutated, original, mutant, offset)
            result.survived.append(entry)
    return result


def _signature(line: str) -> str:
    """A `def` line without its name (mutants are renamed copies); other lines unchanged."""
    return line.split("(", 1)[1].strip() if re.match(r"(async\s+)?def\s", line) else line


def _body(mutated_lines: list[str], fn: ast.AST) -> list[str]:
    """The function's lines after its name (the `def` line's name differs between mutants)."""
    lines = mutated_lines[fn.lineno - 1 : fn.end_lineno]  # type: ignore[attr-defined]
    return [lines[0].split("(", 1)[1], *lines[1:]] if lines else lines


def _changed_lines(mutated: str, original: ast.AST, mutant: ast.AST) -> list[tuple[str, str]]:
    """(original line, mutated line) pairs, stripped, of a mutant that changes lines one for one."""
    lines = mutated.splitlines()
    old, new = _body(lines, original), _body(lines, mutant)
    pairs = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 - i1 != j2 - j1:
            return [("", "")]  # lines added or removed: never matches a declaration
        pairs += [(a.strip(), b.strip()) for a, b in zip(old[i1:i2], new[j1:j2], strict=True)]
    return pairs


def _diff(mutated: str, original: ast.AST, mutant: ast.AST, offset: int) -> str:
    lines = mutated.splitlines()

    def body(fn: ast.AST) -> list[str]:
        return _body(lines, fn)

    start = original.lineno + offset  # type: ignore[attr-defined]
    out = []
    for group in difflib.SequenceMatcher(a=body(original), b=body(mutant), autojunk=False).get_grouped_opcodes(0):
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                continue
            out += [f"      {start + i:4d} - {text.strip()}" for i, text in enumerate(body(original)[i1:i2], i1)]
            out += [f"           + {text.strip()}" for text in body(mutant)[j1:j2]]
    return "\n".join(out)


# -- reporting -------------------------------------------------------------------------------------
def report(result: Result, threshold: float, show_survivors: bool, show_excluded: bool = False) -> None:
    verdict = "ok" if result.ran and result.score >= threshold else "BELOW THRESHOLD"
    if not result.ran:
        verdict = f"DID NOT FINISH ({result.note})"
    print(
        f"{result.module}: {result.killed}/{result.measured} killed, {result.excluded} excluded "
        f"({', '.join(f'{k} {v}' for k, v in sorted(result.excluded_by_rule.items())) or 'none'}), "
        f"score {result.score:.1f} % in {result.seconds:.0f} s — {verdict}"
    )
    if show_survivors:
        for mutant in result.survived:
            print(f"  survived ({mutant.status}) {result.module}:{mutant.line}  {mutant.name}")
            if mutant.diff:
                print(mutant.diff)
    if show_excluded:
        for mutant in result.excluded_mutants:
            print(f"  excluded ({mutant.excluded}) {result.module}:{mutant.line}  {mutant.name}")
            print(mutant.diff)
    sys.stdout.flush()


def markdown(results: list[Result]) -> str:
    rows = [
        "| Module | Mutants | Killed | Excluded (rule) | Survived | Score |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        rules = ", ".join(f"{v} {k}" for k, v in sorted(r.excluded_by_rule.items())) or "0"
        rows.append(
            f"| `{r.module}` | {r.mutants} | {r.killed} | {rules} | {len(r.survived)} | {r.score:.1f} % |"
        )
    return "\n".join(rows)


def _save(result: Result, work: Path) -> None:
    data = asdict(result)
    (work / "result.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))


def _load(work: Path) -> Result | None:
    path = work / "result.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["survived"] = [Mutant(**m) for m in data["survived"]]
    data["excluded_mutants"] = [Mutant(**m) for m in data.get("excluded_mutants", [])]
    return Result(**data)


def select(settings: Settings, wanted: list[str]) -> list[Module]:
    if not wanted:
        return settings.modules
    chosen = []
    for want in wanted:
        matches = [m for m in settings.modules if want in (m.path, m.slug) or want in m.path]
        if not matches:
            raise SystemExit(f"no module in mutation.toml matches {want!r}; --list shows them")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", "-m", action="append", default=[], help="a module path or part of it (repeatable)")
    parser.add_argument("--all", action="store_true", help="every module in mutation.toml (the default)")
    parser.add_argument("--list", action="store_true", help="list the configured modules and their tests")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--quiet", "-q", action="store_true", help="do not print the surviving mutants")
    parser.add_argument("--table", action="store_true", help="print the table of the last results (no run)")
    parser.add_argument(
        "--show", action="store_true", help="print the last results of the chosen modules and their excluded mutants"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    modules = settings.modules if args.all else select(settings, args.module)
    if args.list:
        for m in modules:
            scope = f"  functions: {', '.join(m.functions)}" if m.functions else ""
            print(f"{m.path}: {' '.join(m.tests)}{scope}")
        return 0
    if args.table or args.show:
        results = [r for m in modules if (r := _load(WORK / m.slug)) is not None]
        for r in results if args.show else []:
            report(r, settings.threshold, True, show_excluded=True)
        print(markdown(results))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through run_mutmut's cleanup
    results = []
    for module in modules:
        print(f"== {module.path} against {' '.join(module.tests)}", flush=True)
        work = prepare(module, settings)
        finished, seconds, log_path = run_mutmut(module, work, settings, args.jobs)
        meta = work / "mutants" / (module.path + ".meta")
        result = classify(module, work) if meta.exists() else Result(module.path)
        result.seconds = seconds
        if not finished:
            result.ran = False
            over = seconds >= settings.time_limit_s
            result.note = f"time limit {settings.time_limit_s:.0f} s" if over else f"mutmut failed, see {log_path}"
        _save(result, work)
        report(result, settings.threshold, not args.quiet)
        results.append(result)
    print()
    print(markdown(results))
    failed = [r.module for r in results if not r.ran or r.score < settings.threshold]
    if failed:
        print(f"\nbelow {settings.threshold:.0f} % or not finished: {', '.join(failed)}")
        return 1
    print(f"\nevery module scores at least {settings.threshold:.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
