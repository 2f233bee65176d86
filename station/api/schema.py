"""Request field types that accept exactly what the published JSON Schema says, no more, no less.

Request models use `ConfigDict(extra="forbid", strict=True)`: pydantic's lax mode would take `true` or
`"3"` for an integer. Strict mode in turn refuses `3.0`, which JSON Schema counts as an integer; put
`WHOLE_FLOATS` last in an integer's `Annotated[...]` to accept it again:

    CompartmentNumber = Annotated[int, Field(ge=1, le=9999), WHOLE_FLOATS]

(Last, because constraints placed after a validator no longer reach the JSON Schema as
minimum/maximum.)
"""

from __future__ import annotations

from pydantic import BeforeValidator


def _whole_float_to_int(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE_FLOATS = BeforeValidator(_whole_float_to_int)
