"""The exclusion rules of scripts/mutation (docs/testing.md) on small functions, and mutation.toml itself."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _import(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> Iterator[tuple[ModuleType, ModuleType]]:
    """scripts/mutation's configuration and verdict modules, imported by name as the script imports them."""
    names = ["mutation_config", "mutation_verdicts"]
    try:
        yield _import(names[0]), _import(names[1])
    finally:
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture
def config(tool: tuple[ModuleType, ModuleType]) -> ModuleType:
    return tool[0]


@pytest.fixture
def mt(tool: tuple[ModuleType, ModuleType]) -> ModuleType:
    return tool[1]


ORIGINAL = '''
def f(x, log):
    if x < 0:
        raise ValueError(f"negative: {x}")
    if x > 9:
        raise Refused("too_big", "more than nine")
    log.warning("odd value %d", x)
    return x + 1
'''


def changed(mt: ModuleType, mutant_source: str) -> list[bool]:
    """For each change a mutant makes: does the message rule exclude it?"""
    original = ast.parse(ORIGINAL).body[0]
    mutant = ast.parse(mutant_source).body[0]
    parents = mt._parents(original)
    return [
        mt.message_only(node, parents)
        for x, y in zip(original.body, mutant.body, strict=True)  # type: ignore[attr-defined]
        for node in mt.differences(x, y, original)
    ]


def test_text_raised_with_an_exception_is_message_text(mt: ModuleType) -> None:
    assert changed(mt, ORIGINAL.replace('f"negative: {x}"', "None")) == [True]
    assert changed(mt, ORIGINAL.replace('"more than nine"', '"XXmore than nineXX"')) == [True]


def test_an_error_code_raised_is_behaviour(mt: ModuleType) -> None:
    assert changed(mt, ORIGINAL.replace('"too_big"', '"XXtoo_bigXX"')) == [False]
    assert changed(mt, ORIGINAL.replace("raise ValueError", "raise TypeError")) == [False]


def test_everything_inside_a_log_call_is_message(mt: ModuleType) -> None:
    assert changed(mt, ORIGINAL.replace('log.warning("odd value %d", x)', 'log.warning("odd value %d")')) == [True]
    assert changed(mt, ORIGINAL.replace('"odd value %d"', "None")) == [True]


def test_code_outside_messages_is_measured(mt: ModuleType) -> None:
    assert changed(mt, ORIGINAL.replace("x < 0", "x <= 0")) == [False]
    assert changed(mt, ORIGINAL.replace("x + 1", "x - 1")) == [False]
    both = ORIGINAL.replace("x + 1", "x - 1").replace('f"negative: {x}"', "None")
    assert changed(mt, both) == [True, False]  # one change that counts is enough to measure the mutant


def test_operator_changes_are_located_on_their_line(mt: ModuleType) -> None:
    original = ast.parse(ORIGINAL).body[0]
    mutant = ast.parse(ORIGINAL.replace("x > 9", "x >= 9")).body[0]
    nodes = [n for x, y in zip(original.body, mutant.body, strict=True) for n in mt.differences(x, y, original)]  # type: ignore[attr-defined]
    assert [n.lineno for n in nodes] == [5]


def test_signature_lines_compare_without_the_name(mt: ModuleType) -> None:
    assert mt._signature("def f__mutmut_3(a: int = 1) -> int:") == "a: int = 1) -> int:"
    assert mt._signature("async def g(x):") == "x):"
    assert mt._signature("return defaults(x)") == "return defaults(x)"


def test_the_configuration_is_complete(config: ModuleType, mt: ModuleType) -> None:
    settings = config.load_settings()
    assert settings.threshold == 90.0
    paths = [m.path for m in settings.modules]
    for expected in (
        "payments/zvt/framing.py",
        "payments/zvt/bcd.py",
        "drivers/locks/cu16.py",
        "drivers/locks/cu48.py",
        "station/outbox.py",
        "sync/signing.py",
    ):
        assert expected in paths
    for module in settings.modules:
        tests = config.test_paths(module)
        assert tests and all((REPO / t).exists() for t in tests), module.path
        for equivalent in module.equivalent:
            assert equivalent.reason.strip() and equivalent.code != equivalent.mutant
            source = (REPO / module.path).read_text()
            assert equivalent.code in source or mt._signature(equivalent.code) in source, equivalent


def test_the_last_results_table_reads_back(mt: ModuleType, tmp_path: Path) -> None:
    result = mt.Result("a.py", mutants=10, killed=8, excluded=1, excluded_by_rule={"message": 1})
    result.survived.append(mt.Mutant("a.x_f__mutmut_1", "survived", line=3, diff="-x\n+y"))
    mt.save_result(result, tmp_path)
    loaded = mt.load_result(tmp_path)
    assert loaded == result and json.loads((tmp_path / "result.json").read_text())["killed"] == 8
    assert round(loaded.score, 1) == 88.9
    assert mt.markdown([loaded]).splitlines()[-1] == "| `a.py` | 10 | 8 | 1 message | 1 | 88.9 % |"
