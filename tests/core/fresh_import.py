"""A freshly executed copy of a module, for testing the tables a module builds while it is imported.

Code that runs only at import time (say, a dict of codecs built by calling factory functions) runs
once per test session, before any test. `fresh_module("payments.zvt.fields")` executes the module's
source again under its own name, without touching `sys.modules`, and returns the new module object:
a test of its tables then exercises that import-time code itself. It is also how mutation testing
(scripts/mutation) sees that code: mutmut switches a mutant on per test, after the import.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType


def fresh_module(name: str) -> ModuleType:
    """Execute module `name` again (its siblings are shared with the imported package)."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None and spec.loader is not None, name
    copy_spec = importlib.util.spec_from_file_location(name, spec.origin)
    assert copy_spec is not None and copy_spec.loader is not None
    module = importlib.util.module_from_spec(copy_spec)
    copy_spec.loader.exec_module(module)
    return module
