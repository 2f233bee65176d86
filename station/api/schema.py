"""Request field types that accept exactly what the published JSON Schema says, no more, no less.

Request models use `ConfigDict(extra="forbid", strict=True)`: pydantic's lax mode would take `true` or
`"3"` for an integer. Strict mode in turn refuses `3.0`, which JSON Schema counts as an integer; `JsonInt`
accepts it again.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def _whole_float_to_int(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_whole_float_to_int)]
