"""Reading JSON bodies and query parameters, with API.md's 400/415/422 errors."""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import request

from flotilla.errors import ApiError

# PostgreSQL BIGINT: anything wider could never be stored.
BIGINT_MAX = 2**63 - 1
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Field:
    """One field of a JSON object: its type, bounds and normalisation."""

    kind: type
    required: bool = True
    min: int | None = None  # length for strings, value for integers
    max: int | None = None
    nullable: bool = False
    pattern: re.Pattern | None = None
    normalize: Callable[[Any], Any] | None = None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> Any:
    """Return the parsed JSON body, or raise 415/400 for a wrong type or bad JSON."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        return json.loads(request.get_data(cache=True), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "Request body is not valid JSON") from None


def validate(data: Any, schema: Mapping[str, Field], *, partial: bool = False) -> dict:
    """Return the valid, normalised fields of data or raise one 422 naming every problem."""
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "Body must be a JSON object", fields={})
    errors = {name: "unknown field" for name in data if name not in schema}
    clean = {}
    for name, field in schema.items():
        if name not in data:
            if field.required and not partial:
                errors[name] = "is required"
            continue
        value, problem = _check(data[name], field)
        if problem:
            errors[name] = problem
        else:
            clean[name] = value
    if partial and not data:
        raise ApiError(422, "validation_error", "Nothing to update", fields={})
    if errors:
        raise ApiError(422, "validation_error", "Invalid input", fields=errors)
    return clean


def _check(value: Any, field: Field) -> tuple[Any, str | None]:
    if value is None:
        return None, None if field.nullable else "must not be null"
    if field.kind is int:
        return _check_int(value, field)
    if field.kind is list:  # its entries are checked with validate_list
        return (value, None) if isinstance(value, list) else (None, "must be a list")
    if not isinstance(value, str):
        return None, "must be a string"
    if field.normalize:
        value = field.normalize(value)
    if field.min is not None and len(value) < field.min:
        return None, f"must be at least {field.min} characters"
    if field.max is not None and len(value) > field.max:
        return None, f"must be at most {field.max} characters"
    if field.pattern and not field.pattern.fullmatch(value):
        return None, "has an invalid format"
    return value, None


def _check_int(value: Any, field: Field) -> tuple[Any, str | None]:
    # bool is an int subclass in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "must be an integer"
    low = field.min if field.min is not None else -BIGINT_MAX
    high = min(field.max if field.max is not None else BIGINT_MAX, BIGINT_MAX)
    if not low <= value <= high:
        return None, f"must be between {low} and {high}"
    return value, None


def query_int(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    """Return an integer query parameter, clamped to maximum; 400 when it is not one."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,18}|-[0-9]{1,18}", raw) or int(raw) < minimum:
        raise ApiError(400, "bad_request", f"{name} must be an integer >= {minimum}")
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def page_query() -> tuple[int, int]:
    """Return API.md's paging parameters (limit 1-100, default 20; offset >= 0) or raise 400."""
    limit = query_int("limit", 20, minimum=1, maximum=100)
    return limit, query_int("offset", 0, minimum=0, maximum=BIGINT_MAX)


def validate_list(
    value: Any,
    schema: Mapping[str, Field],
    *,
    name: str,
    min_length: int,
    max_length: int,
    unique: str | None = None,
) -> list[dict]:
    """Return a list of objects each valid against schema, or raise one 422 naming every problem.

    Problems are reported as fields "name[i].field"; unique names a field that no two
    objects may share.
    """
    if not isinstance(value, list):
        raise ApiError(422, "validation_error", "Invalid input", fields={name: "must be a list"})
    if not min_length <= len(value) <= max_length:
        raise ApiError(
            422,
            "validation_error",
            "Invalid input",
            fields={name: f"must have between {min_length} and {max_length} entries"},
        )
    errors: dict[str, str] = {}
    clean: list[dict] = []
    seen: set[Any] = set()
    for index, entry in enumerate(value):
        try:
            item = validate(entry, schema)
        except ApiError as error:
            for field, problem in (error.fields or {"": error.message}).items():
                errors[f"{name}[{index}]" + (f".{field}" if field else "")] = problem
            continue
        if unique is not None:
            if item[unique] in seen:
                errors[f"{name}[{index}].{unique}"] = "is a duplicate"
            seen.add(item[unique])
        clean.append(item)
    if errors:
        raise ApiError(422, "validation_error", "Invalid input", fields=errors)
    return clean
