"""__SERVICE__'s public endpoints: anyone reads its entries, a signed-in user adds one."""

from flask import Blueprint, Response, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.errors import ApiError
from flotilla.validation import NOT_BLANK, PAGE, Field, accepts, query
from __PACKAGE__ import repository

ENTRY = {"name": Field(str, min=1, max=200, pattern=NOT_BLANK, normalize=str.strip)}

entries = Blueprint("entries", __name__, url_prefix="__PREFIX__")


@entries.get("")
@query(*PAGE)
def list_entries(limit: int, offset: int) -> Response:
    """Return a page of the entries, newest first."""
    with get_db().transaction() as cursor:
        items = repository.list_entries(cursor, limit=limit, offset=offset)
        total = repository.count_entries(cursor)
    return jsonify(items=items, total=total, limit=limit, offset=offset)


@entries.post("")
@require_user
@accepts(ENTRY)
def create_entry(data: dict) -> tuple[Response, int]:
    """Add an entry."""
    with get_db().transaction() as cursor:
        entry = repository.insert_entry(cursor, name=data["name"])
    return jsonify(entry), 201


@entries.get("/<int:entry_id>")
def get_entry(entry_id: int) -> Response:
    """Return one entry."""
    with get_db().transaction() as cursor:
        entry = repository.get_entry(cursor, entry_id=entry_id)
    if entry is None:
        raise ApiError(404, "not_found", "Entry not found")
    return jsonify(entry)
