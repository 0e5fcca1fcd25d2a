"""Reading requests, with API.md's 400/415/422 errors.

Every request's path, query string and header values are checked before any view runs
(check_request_bytes). A view declares what it reads with @accepts(FIELDS) and
@query(PARAM, ...); the same declarations are checked here and described in the OpenAPI
document (flotilla.openapi).
"""

import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from itertools import accumulate
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from flask import request
from pydantic import BaseModel, ValidationError

from flotilla.errors import ApiError

# PostgreSQL BIGINT: anything wider could never be stored.
BIGINT_MAX = 2**63 - 1
# What str.isspace() (and so str.strip()) takes for whitespace, spelled out: re's \s and
# ECMA's \s (the OpenAPI patterns) disagree on several of these.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# An address, with the whitespace around it that normalising trims.
EMAIL = re.compile(
    rf"[{WHITESPACE}]*[^@{WHITESPACE}]+@[^@{WHITESPACE}]+\.[^@{WHITESPACE}]+[{WHITESPACE}]*"
)
# Text that is not only whitespace: what a trimmed field needs to keep a character.
NOT_BLANK = re.compile(rf"[{WHITESPACE}]*[^{WHITESPACE}](?:[{WHITESPACE}]|[^{WHITESPACE}])*")
# Digits only (int() would also take "+1", " 1" and "1_0"), and few enough to parse cheaply.
QUERY_INTEGER = re.compile(r"-?[0-9]{1,19}")
# Far deeper than any body we accept; a bound of ours, not the interpreter's recursion limit.
MAX_JSON_DEPTH = 32
# Header values are visible ASCII, space and tab (RFC 9110 field-vchar without obs-text):
# anything else is refused before a Python string method can read it as something else
# (str.isspace() and re's \s take 0x85, 0xA0 and 0x1C-0x1F for whitespace).
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Text that no path, query or string field carries: C0 controls (NUL first) and DEL.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Query text that passes check_request_bytes (stated in the OpenAPI documents).
QUERY_TEXT = re.compile(r"[^\x00-\x1f\x7f]*")
# Lone surrogates: JSON escapes can make them, PostgreSQL and UTF-8 cannot hold them.
SURROGATE = re.compile(r"[\ud800-\udfff]")
# A JSON \u escape of a surrogate: only a body with one can hold a lone surrogate.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
NOT_BRACKET = re.compile(r"[^\[\]{}]++")
BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}

View = Callable[..., Any]


@dataclass(frozen=True)
class Field:
    """One field of a JSON object: its type, bounds and normalisation."""

    kind: type
    required: bool = True
    min: int | None = None  # length for strings, entries for lists, value for integers
    max: int | None = None
    nullable: bool = False
    pattern: re.Pattern | None = None  # written in the part of regex syntax ECMA shares
    normalize: Callable[[Any], Any] | None = None
    items: Mapping[str, "Field"] | None = None  # lists: the fields of every entry
    unique: str | None = None  # lists: the entry field that no two entries may share
    doc: str = ""


@dataclass(frozen=True)
class Body:
    """A JSON object request body; partial: any non-empty subset of the fields (PATCH);
    requires: field -> the field that must come with it."""

    fields: Mapping[str, Field]
    partial: bool = False
    requires: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """One query parameter: the field its text must be, and its value when absent."""

    name: str
    field: Field
    default: Any
    clamp: int | None = None  # integers over it count as it, rather than being refused


LIMIT = Query("limit", Field(int, min=1), default=20, clamp=100)
OFFSET = Query("offset", Field(int, min=0), default=0)
PAGE = (LIMIT, OFFSET)


def accepts(
    fields: Mapping[str, Field],
    *,
    partial: bool = False,
    requires: Mapping[str, str] | None = None,
) -> Callable[[View], View]:
    """Validate the JSON body against fields and pass the clean values to the view as data."""
    # Goes below @require_user & co., so that only authenticated callers' bodies are read.
    body = Body(fields, partial, dict(requires or {}))

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            data = validate(json_body(), body.fields, partial=body.partial, requires=body.requires)
            return view(*args, data=data, **kwargs)

        wrapper.request_body = body  # flotilla.openapi documents it
        return wrapper

    return decorate


def query(*params: Query) -> Callable[[View], View]:
    """Read the query parameters and pass each to the view as a keyword argument."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **{param.name: query_value(param) for param in params}, **kwargs)

        wrapper.query_params = params  # flotilla.openapi documents it
        return wrapper

    return decorate


UNSTORABLE = "must not contain NUL or lone surrogate characters"
# Pydantic's words for a problem -> API.md's (any other problem keeps pydantic's message).
MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "string_pattern_mismatch": "has an invalid format",
}

M = TypeVar("M", bound=BaseModel)
Responses = Mapping[int, type[BaseModel] | str]


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    responses: Responses | None = None,
) -> Callable[[View], View]:
    """Validate what the view reads and pass it as body=, query= and headers=; record it
    all, and the responses (status -> model, or the description of an error or empty
    answer), for flotilla.openapi."""

    # Goes below @require_user & co., so that only authenticated callers' requests are read.
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if body is not None:
                kwargs["body"] = validated(body, json_body())
            if query is not None:
                kwargs["query"] = _parameters(query, request.args)
            if headers is not None:
                kwargs["headers"] = _parameters(headers, request.headers)
            return view(*args, **kwargs)

        declared = {"body": body, "query": query, "headers": headers, "responses": responses or {}}
        wrapper.openapi = declared
        return wrapper

    return decorate


def validated(model: type[M], data: Any) -> M:
    """Return data as a model, or raise one 422 naming every problem ("items[0].quantity")."""
    problems = dict(_unstorable(data))
    try:
        valid = model.model_validate(data)
    except ValidationError as error:
        for found in error.errors(include_url=False, include_input=False):
            where = _name(found["loc"]) or found.get("ctx", {}).get("field", "")
            problems.setdefault(where, MESSAGES.get(found["type"], found["msg"]))
    if not problems:
        return valid
    if set(problems) == {""}:  # about the whole body, not one field
        raise ApiError(422, "validation_error", f"Body {problems['']}", fields={})
    problems.pop("", None)
    raise ApiError(422, "validation_error", "Invalid input", fields=problems)


def _name(loc: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]


def _unstorable(data: Any, where: tuple = ()) -> Iterator[tuple[str, str]]:
    """Yield (field, message) for every key or string that PostgreSQL cannot hold."""
    if isinstance(data, str) and ("\x00" in data or SURROGATE.search(data)):
        yield _name(where), UNSTORABLE
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _unstorable(key, (*where, key))
            yield from _unstorable(value, (*where, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _unstorable(value, (*where, index))


def _parameters(model: type[M], given: Mapping[str, str]) -> M:
    """Return the model of the query parameters or headers it names; 400 when one is bad."""
    names = [field.alias or name for name, field in model.model_fields.items()]
    try:
        return model.model_validate({name: given[name] for name in names if name in given})
    except ValidationError as error:
        found = error.errors(include_url=False, include_input=False)[0]
        problem = MESSAGES.get(found["type"], found["msg"])
        message = f"{_name(found['loc'])} is not valid: {problem}"
        raise ApiError(400, "bad_request", message) from None


def check_request_bytes() -> None:
    """Refuse (400) a request whose path, query string or header values are not clean text."""
    # WSGI hands these over as latin-1 strings of the bytes received (percent-decoded path).
    path = request.environ.get("PATH_INFO", "")
    if not _is_clean_text(path.encode("latin-1", "replace")):
        raise ApiError(400, "bad_request", "Path is not UTF-8 text without control characters")
    if not _is_clean_text(unquote_to_bytes(request.query_string)):
        raise ApiError(
            400, "bad_request", "Query string is not UTF-8 text without control characters"
        )
    for name, value in request.headers.items():
        if not HEADER_VALUE.fullmatch(value):
            raise ApiError(
                400, "bad_request", f"Header {name} may hold only visible ASCII, space and tab"
            )


def _is_clean_text(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")  # strict: no invalid sequences, no encoded surrogates
    except UnicodeDecodeError:
        return False
    return not CONTROL.search(text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> Any:
    """Return the parsed JSON body, or raise 415/400 for a wrong type or bad JSON.

    The body is UTF-8 (json.loads alone would take UTF-16 and encoded surrogates), nested at
    most MAX_JSON_DEPTH deep, and holds no lone surrogate in any string or key.
    """
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        text = request.get_data(cache=True).decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "Request body is not valid JSON") from None
    except RecursionError:
        raise _too_deep() from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise _too_deep()
    if SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise ApiError(400, "malformed_json", "Request body holds a lone surrogate")
    return data


def _too_deep() -> ApiError:
    return ApiError(400, "malformed_json", f"Request body is nested over {MAX_JSON_DEPTH} deep")


def _depth(text: str) -> int:
    """Return how deep valid JSON text nests: its brackets outside strings, counted in C."""
    brackets = NOT_BRACKET.sub("", JSON_STRING.sub("", text))
    return max(accumulate(map(BRACKET_STEP.__getitem__, brackets)), default=0)


def _has_lone_surrogate(data: Any) -> bool:
    # Encoding to UTF-8 fails on exactly the strings (values or keys) that hold one.
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate(
    data: Any,
    schema: Mapping[str, Field],
    *,
    partial: bool = False,
    requires: Mapping[str, str] | None = None,
) -> dict:
    """Return the valid, normalised fields of data or raise one 422 naming every problem.

    Problems inside lists are named "list[index].field".
    """
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "Body must be a JSON object", fields={})
    if partial and not data:
        raise ApiError(422, "validation_error", "Nothing to update", fields={})
    clean, errors = _check_object(data, schema, partial=partial)
    for name, needed in (requires or {}).items():
        if name in data and needed not in data:
            errors[needed] = f"is required with {name}"
    if errors:
        raise ApiError(422, "validation_error", "Invalid input", fields=errors)
    return clean


Checked = tuple[Any, dict[str, str]]  # the clean value, and problems by field name


def _check_object(
    data: dict, schema: Mapping[str, Field], *, partial: bool = False, prefix: str = ""
) -> Checked:
    errors = {prefix + name: "unknown field" for name in data if name not in schema}
    clean = {}
    for name, field in schema.items():
        if name not in data:
            if field.required and not partial:
                errors[prefix + name] = "is required"
            continue
        value, problems = _check(data[name], field, prefix + name)
        errors.update(problems)
        if not problems:
            clean[name] = value
    return clean, errors


def _check(value: Any, field: Field, name: str) -> Checked:
    if value is None:
        return None, {} if field.nullable else {name: "must not be null"}
    if field.kind is list:
        return _check_list(value, field, name)
    value, problem = _check_int(value, field) if field.kind is int else _check_str(value, field)
    return value, {name: problem} if problem else {}


def _check_str(value: Any, field: Field) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return None, "must be a string"
    # PostgreSQL text cannot hold NUL, nor UTF-8 a lone surrogate: refused for every field.
    if "\x00" in value or SURROGATE.search(value):
        return None, "must not contain NUL or lone surrogate characters"
    # The value as sent is checked, as the OpenAPI document describes it; then normalised.
    if field.min is not None and len(value) < field.min:
        return None, f"must be at least {field.min} characters"
    if field.max is not None and len(value) > field.max:
        return None, f"must be at most {field.max} characters"
    if field.pattern and not field.pattern.fullmatch(value):
        return None, "has an invalid format"
    if field.normalize:
        value = field.normalize(value)
        # A few characters grow when lower-cased ("İ" is two); the bound holds for what is kept.
        if field.max is not None and len(value) > field.max:
            return None, f"must be at most {field.max} characters once normalised"
    return value, None


def int_bounds(field: Field) -> tuple[int, int]:
    """Return the lowest and highest integer the field takes: never beyond a BIGINT."""
    low = field.min if field.min is not None else -BIGINT_MAX
    high = min(field.max if field.max is not None else BIGINT_MAX, BIGINT_MAX)
    return low, high


def _check_int(value: Any, field: Field) -> tuple[Any, str | None]:
    # bool is an int subclass in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        return None, "must be an integer"
    low, high = int_bounds(field)
    if not low <= value <= high:
        return None, f"must be between {low} and {high}"
    return value, None


def _check_list(value: Any, field: Field, name: str) -> Checked:
    if not isinstance(value, list):
        return None, {name: "must be a list"}
    low, high = field.min or 0, field.max if field.max is not None else BIGINT_MAX
    if not low <= len(value) <= high:
        return None, {name: f"must have between {low} and {high} entries"}
    if field.items is None:
        return value, {}
    clean: list[dict] = []
    errors: dict[str, str] = {}
    seen: set[Any] = set()
    for index, entry in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(entry, dict):
            errors[where] = "must be an object"
            continue
        item, problems = _check_object(entry, field.items, prefix=f"{where}.")
        errors.update(problems)
        if problems:
            continue
        if field.unique is not None:
            if item[field.unique] in seen:
                errors[f"{where}.{field.unique}"] = "is a duplicate"
            seen.add(item[field.unique])
        clean.append(item)
    return clean, errors


def query_value(param: Query) -> Any:
    """Return a query parameter's value, its default when absent; 400 when it is not valid."""
    raw = request.args.get(param.name)
    if raw is None:
        return param.default
    if param.field.kind is int:
        return _query_int(raw, param)
    value, problems = _check(raw, param.field, param.name)
    if problems:
        raise ApiError(400, "bad_request", f"{param.name} {problems[param.name]}")
    return value


def _query_int(raw: str, param: Query) -> int:
    low, high = int_bounds(param.field)
    value = int(raw) if QUERY_INTEGER.fullmatch(raw) else None
    if value is None or value < low:
        raise ApiError(400, "bad_request", f"{param.name} must be an integer >= {low}")
    if value > high:
        raise ApiError(400, "bad_request", f"{param.name} must be an integer <= {high}")
    return min(value, param.clamp) if param.clamp is not None else value
