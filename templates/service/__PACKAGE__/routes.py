"""__SERVICE__'s public endpoints: anyone reads its entries, a signed-in user adds one."""

from flask import Blueprint, Response, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.errors import ApiError
from flotilla.schemas import Page
from flotilla.validation import endpoint
from __PACKAGE__ import repository
from __PACKAGE__.schemas import Entry, EntryPage, NewEntry

entries = Blueprint("entries", __name__, url_prefix="__PREFIX__")


@entries.get("")
@endpoint(query=Page, responses={200: EntryPage})
def list_entries(query: Page) -> Response:
    """Return a page of the entries, newest first."""
    with get_db().transaction() as cursor:
        items = repository.list_entries(cursor, limit=query.limit, offset=query.offset)
        total = repository.count_entries(cursor)
    return jsonify(items=items, total=total, limit=query.limit, offset=query.offset)


@entries.post("")
@require_user
@endpoint(body=NewEntry, responses={201: Entry})
def create_entry(body: NewEntry) -> tuple[Response, int]:
    """Add an entry."""
    with get_db().transaction() as cursor:
        entry = repository.insert_entry(cursor, name=body.name)
    return jsonify(entry), 201


@entries.get("/<int:entry_id>")
@endpoint(responses={200: Entry, 404: "No such entry"})
def get_entry(entry_id: int) -> Response:
    """Return one entry."""
    with get_db().transaction() as cursor:
        entry = repository.get_entry(cursor, entry_id=entry_id)
    if entry is None:
        raise ApiError(404, "not_found", "Entry not found")
    return jsonify(entry)
