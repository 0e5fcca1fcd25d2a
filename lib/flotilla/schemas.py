"""What every service's schemas.py builds on: pydantic models and types with API.md's rules."""

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# PostgreSQL BIGINT: anything wider could never be stored.
BIGINT_MAX = 2**63 - 1
# What str.isspace() (and so str.strip()) takes for whitespace, spelled out: re's \s and
# ECMA's \s (the OpenAPI patterns) disagree on several of these.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Control characters (C0, DEL, C1) and the line and paragraph separators.
LINE_BREAKING = r"\x00-\x1f\x7f-\x9f\u2028\u2029"


def pattern(regex: str) -> str:
    """Return regex anchored to the whole value, as JSON Schema (a search) and pydantic read it."""
    return f"^(?:{regex})$"  # written in the part of regex syntax ECMA, Rust and Python share


# An address, with the whitespace around it that normalising trims.
EMAIL = pattern(
    rf"[{WHITESPACE}]*[^@{WHITESPACE}]+@[^@{WHITESPACE}]+\.[^@{WHITESPACE}]+[{WHITESPACE}]*"
)
# Text that is not only whitespace: what a trimmed field needs to keep a character.
NOT_BLANK = pattern(rf"[{WHITESPACE}]*[^{WHITESPACE}][\s\S]*")
# Text on one line that is not only whitespace.
ONE_LINE = pattern(rf"[{WHITESPACE}]*[^{WHITESPACE}{LINE_BREAKING}][^{LINE_BREAKING}]*")
# Query text that passes check_request_bytes.
QUERY_TEXT = pattern(r"[^\x00-\x1f\x7f]*")


class Body(BaseModel):
    """A JSON object request body: exactly these fields, each of exactly its JSON type."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _document_patch(schema: dict[str, Any], model: type["Patch"]) -> None:
    for field in schema["properties"].values():
        field.pop("default", None)  # a field is left out, never null
    schema["minProperties"] = 1
    if model.requires:  # "without name, or with needed": dependentRequired for more tools
        schema["allOf"] = [
            {"anyOf": [{"not": {"required": [name]}}, {"required": [needed]}]}
            for name, needed in model.requires.items()
        ]


class Patch(Body):
    """A body of any non-empty subset of its fields (None: left out); requires: field -> the
    field that must come with it."""

    model_config = ConfigDict(json_schema_extra=_document_patch)
    requires: ClassVar[dict[str, str]] = {}

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if not self.model_fields_set:
            raise PydanticCustomError("empty", "must name something to update")
        for name, needed in self.requires.items():
            if name in self.model_fields_set and needed not in self.model_fields_set:
                raise PydanticCustomError(
                    "required_with", "is required with {name}", {"name": name, "field": needed}
                )
        return self


class Parameters(BaseModel):
    """Query parameters or headers: the ones named, each from its text; others are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)


@dataclass(frozen=True)
class UniqueBy:
    """Annotates a list of models of which no two entries have the same value of key."""

    key: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        # JSON Schema can say "no two equal entries"; "unique by one key" only in words.
        note = f"No two entries have the same {self.key}"
        return {**handler(schema), "uniqueItems": True, "description": note}

    def _check(self, entries: list) -> list:
        seen = set()
        for entry in entries:
            value = getattr(entry, self.key)
            if value in seen:
                raise PydanticCustomError(
                    "unique", "{key} {value} is in two entries", {"key": self.key, "value": value}
                )
            seen.add(value)
        return entries


def _query_int(value: Any) -> Any:
    # Digits only (int() would also take "+1", " 1" and "1_0"), few enough to parse cheaply.
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            raise PydanticCustomError("int_parsing", "must be an integer")
        return int(value)
    return value


def normalise_email(value: str) -> str:
    """Return an email as it is stored and compared everywhere: trimmed, lower-cased."""
    return value.strip().lower()


def _email(value: str) -> str:
    value = normalise_email(value)
    # A few characters grow when lower-cased ("İ" is two); the bound holds for what is kept.
    if len(value) > 254:
        raise PydanticCustomError("too_long", "must be at most 254 characters once normalised")
    return value


Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Cents = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
QueryInt = BeforeValidator(_query_int)
Email = Annotated[
    str,
    Field(max_length=254, pattern=EMAIL, description="Checked as sent, then trimmed, lower-cased"),
    AfterValidator(_email),
]
LoginEmail = Annotated[
    str, Field(max_length=254, description="Trimmed and lower-cased"), AfterValidator(_email)
]
Trimmed = AfterValidator(str.strip)


class Paged(BaseModel):
    """What every page of a list answers beside its items (a subclass adds `items`)."""

    total: int
    limit: int
    offset: int


class Page(Parameters):
    """A page of a list: limit entries from offset on."""

    # The bounds go before QueryInt: the schema after a validator would not show them.
    limit: Annotated[
        int,
        Field(ge=1, le=BIGINT_MAX, description="Over 100 counts as 100"),
        QueryInt,
        AfterValidator(lambda limit: min(limit, 100)),
    ] = 20
    offset: Annotated[int, Field(ge=0, le=BIGINT_MAX), QueryInt] = 0
