"""Schemathesis hooks of `make fuzz` (fuzz.py loads them through SCHEMATHESIS_HOOKS).

OpenAPI 3.1's JSON Schema counts 2.0 as an integer, and schemathesis sends such spellings
for integer fields as valid data; API.md refuses them (422: an integer is written as one).
Bodies go out with every whole float written as the integer it equals, so that every check
still holds for everything else.
"""

from typing import Any

import schemathesis


def _integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integers(entry) for key, entry in value.items()}
    if isinstance(value, list):
        return [_integers(entry) for entry in value]
    return value


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    """Write every whole float of a generated body as an integer."""
    return _integers(body)
