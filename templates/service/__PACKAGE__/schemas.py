"""What __SERVICE__ reads and answers: its requests and responses, as pydantic models."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from flotilla.schemas import NOT_BLANK, Body, Paged, Trimmed

Name = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="Trimmed once checked"),
    Trimmed,
]


class NewEntry(Body):
    """An entry to add."""

    name: Name


class Entry(BaseModel):
    """An entry."""

    id: int
    name: str
    created_at: datetime


class EntryPage(Paged):
    """A page of entries, newest first."""

    items: list[Entry]
