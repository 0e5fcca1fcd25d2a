"""The JSON Schema (OpenAPI 3.0's dialect) of the fields flotilla.validation checks."""

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flotilla.validation import QUERY_TEXT, Field, Query, int_bounds

# Python's and ECMA's regexes agree on the syntax our patterns use; not on these
# (\d and \w are Unicode-wide in Python, ASCII in ECMA; inline flags and \A \Z are Python's).
_PYTHON_ONLY = re.compile(r"\\[AZdDwWbB]|\(\?[aiLmsux]|\(\?P")
# JSON Schema keyword -> the step from a bound to the nearest value beyond it.
BOUND_KEYWORDS = {
    "minimum": -1,
    "maximum": 1,
    "minLength": -1,
    "maxLength": 1,
    "minItems": -1,
    "maxItems": 1,
}


def object_schema(
    fields: Mapping[str, Field],
    *,
    partial: bool = False,
    requires: Mapping[str, str] | None = None,
) -> dict:
    """Return the schema of a JSON object with these fields and no others; requires: field ->
    the field that must come with it."""
    schema: dict = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: field_schema(field) for name, field in fields.items()},
    }
    required = [name for name, field in fields.items() if field.required]
    if partial:
        schema["minProperties"] = 1
    elif required:
        schema["required"] = required
    if requires:
        # OpenAPI 3.0 has no dependentRequired: "without name, or with needed" says the same.
        schema["allOf"] = [
            {"anyOf": [{"not": {"required": [name]}}, {"required": [needed]}]}
            for name, needed in requires.items()
        ]
    return schema


def field_schema(field: Field) -> dict:
    """Return the schema of the values a field accepts."""
    if field.kind is int:
        low, high = int_bounds(field)
        schema: dict = {"type": "integer", "minimum": low, "maximum": high}
    elif field.kind is list:
        schema = _list_schema(field)
    else:
        schema = {"type": "string"}
        _put(schema, minLength=field.min, maxLength=field.max, pattern=ecma_pattern(field.pattern))
    if field.nullable:
        schema["nullable"] = True
    if field.doc:
        schema["description"] = field.doc
    return schema


def _list_schema(field: Field) -> dict:
    schema: dict = {"type": "array"}
    _put(schema, minItems=field.min, maxItems=field.max)
    if field.items is not None:
        schema["items"] = object_schema(field.items)
    if field.unique is not None:
        # "Unique by one key" is beyond JSON Schema: uniqueItems is the part it can say.
        schema["uniqueItems"] = True
        schema["description"] = f"No two entries have the same {field.unique}"
    return schema


def _put(schema: dict, **keywords: object) -> None:
    schema.update({key: value for key, value in keywords.items() if value is not None})


def ecma_pattern(pattern: re.Pattern | None) -> str | None:
    """Return the pattern as an anchored ECMA regex, or None when it cannot be written as one."""
    if pattern is None or pattern.flags & ~re.UNICODE or _PYTHON_ONLY.search(pattern.pattern):
        return None
    return f"^(?:{pattern.pattern})$"  # validation matches whole values (fullmatch)


def query_parameter(param: Query) -> dict:
    """Return the OpenAPI description of a query parameter."""
    schema = {**field_schema(param.field), "default": param.default}
    if schema["type"] == "string" and "pattern" not in schema:
        # What check_request_bytes refuses in every query string.
        schema["pattern"] = ecma_pattern(QUERY_TEXT)
    parameter = {"name": param.name, "in": "query", "required": False, "schema": schema}
    notes = [schema.pop("description", "")]
    if param.clamp is not None:
        notes.append(f"Over {param.clamp} counts as {param.clamp}")
    if description := ". ".join(filter(None, notes)):
        parameter["description"] = description
    return parameter


@dataclass(frozen=True)
class Bound:
    """A value at, or just beyond, one bound that a schema documents for a field."""

    field: str  # "name", or "items[0].quantity" for a field of a list's entries
    keyword: str  # the JSON Schema keyword: "maxLength", "minimum", ...
    size: int  # the value itself, or the length or number of entries it has
    inside: bool  # at the bound (valid) or one step beyond it (invalid)
    location: str = "body"  # or "query": where the field is sent

    def __str__(self) -> str:
        return f"{self.field}:{self.keyword}:{'inside' if self.inside else 'outside'}"

    def value(self, text: Callable[[int], str], entries: Callable[[int], list]) -> Any:
        """Return the value itself, or a text or list of entries of this size."""
        if self.keyword in ("minimum", "maximum"):
            return self.size
        return text(self.size) if self.keyword in ("minLength", "maxLength") else entries(self.size)

    def placed(self, body: dict, value: Any) -> dict:
        """Return a copy of body with value as this bound's field (also "items[0].quantity")."""
        body = copy.deepcopy(body)
        *entries, name = self.field.split(".")
        target = body
        for entry in entries:  # "items[0]"
            key, index = entry[:-1].split("[")
            target = target[key][int(index)]
        target[name] = value
        return body


def bounds(schema: dict, prefix: str = "", location: str = "body") -> list[Bound]:
    """Return a value at and one just beyond every bound of every field of an object schema."""
    found = []
    for name, prop in schema["properties"].items():
        field = prefix + name
        for keyword, step in BOUND_KEYWORDS.items():
            if keyword in prop:
                found.append(Bound(field, keyword, prop[keyword], True, location))
                if prop[keyword] + step >= 0:  # no length is below zero
                    found.append(Bound(field, keyword, prop[keyword] + step, False, location))
        if "properties" in prop.get("items", {}):
            found += bounds(prop["items"], f"{field}[0].", location)
    return found


def parameter_bounds(parameters: list[dict]) -> list[Bound]:
    """Return a value at and one just beyond every bound of some query parameters."""
    properties = {param["name"]: param["schema"] for param in parameters}
    return bounds({"properties": properties}, location="query")
