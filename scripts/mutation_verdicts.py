"""The verdicts of mutation testing: each mutant classified, the results saved and reported.

After mutmut ran, each mutant is classified by comparing the syntax tree of the mutated function
with the original one:

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

A module scores killed / (mutants - excluded).
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mutation_config import REPO, Module

KILLED = {"killed", "timeout", "segfault", "caught by type check"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
LOGGER = re.compile(r"^(self\.)?_?(log|logger)$")


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


def save_result(result: Result, work: Path) -> None:
    data = asdict(result)
    (work / "result.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))


def load_result(work: Path) -> Result | None:
    path = work / "result.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["survived"] = [Mutant(**m) for m in data["survived"]]
    data["excluded_mutants"] = [Mutant(**m) for m in data.get("excluded_mutants", [])]
    return Result(**data)
