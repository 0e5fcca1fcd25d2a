"""Reading requests, with API.md's 400/415/422 errors.

Every request's path, query string and header values are checked before any view runs
(check_request_bytes). A view declares the models it reads with @endpoint; the same
declaration is what flotilla.openapi documents.
"""

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import wraps
from itertools import accumulate
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from flask import request
from pydantic import BaseModel, ValidationError

from flotilla.errors import ApiError

# Far deeper than any body we accept; a bound of ours, not the interpreter's recursion limit.
MAX_JSON_DEPTH = 32
# Header values are visible ASCII, space and tab (RFC 9110 field-vchar without obs-text):
# anything else is refused before a Python string method can read it as something else
# (str.isspace() and re's \s take 0x85, 0xA0 and 0x1C-0x1F for whitespace).
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Text that no path, query or string field carries: C0 controls (NUL first) and DEL.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Lone surrogates: JSON escapes can make them, PostgreSQL and UTF-8 cannot hold them.
SURROGATE = re.compile(r"[\ud800-\udfff]")
# A JSON \u escape of a surrogate: only a body with one can hold a lone surrogate.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
NOT_BRACKET = re.compile(r"[^\[\]{}]++")
BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
UNSTORABLE = "must not contain NUL or lone surrogate characters"
# Pydantic's words for a problem -> API.md's (any other problem keeps pydantic's message).
MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "string_pattern_mismatch": "has an invalid format",
}

View = Callable[..., Any]
M = TypeVar("M", bound=BaseModel)
# Status -> the model answered, or the description of an error or of an empty answer.
Responses = Mapping[int, type[BaseModel] | str]


def endpoint(
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    responses: Responses | None = None,
) -> Callable[[View], View]:
    """Pass the view the body=, query= and headers= it reads, validated; record them for openapi."""

    # The names each parameter model reads, found once, not on every request.
    query_names, header_names = _names(query), _names(headers)

    # Goes below @require_user & co., so that only authenticated callers' requests are read.
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if body is not None:
                kwargs["body"] = validated(body, json_body())
            if query is not None:
                kwargs["query"] = _parameters(query, query_names, request.args)
            if headers is not None:
                kwargs["headers"] = _parameters(headers, header_names, request.headers)
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


def _names(model: type[BaseModel] | None) -> list[str]:
    """Return the query parameters or headers a model reads: its fields, by alias if any."""
    fields = model.model_fields.items() if model else ()
    return [field.alias or name for name, field in fields]


def _parameters(model: type[M], names: list[str], given: Mapping[str, str]) -> M:
    """Return the model of the query parameters or headers it names; 400 when one is bad."""
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
    path = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")
    for what, raw in (("Path", path), ("Query string", unquote_to_bytes(request.query_string))):
        if not _is_clean_text(raw):
            message = f"{what} is not UTF-8 text without control characters"
            raise ApiError(400, "bad_request", message)
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
