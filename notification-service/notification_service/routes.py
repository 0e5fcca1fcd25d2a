"""Public HTTP endpoints of notification-service."""

from flask import Blueprint, Response, g, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.validation import PAGE, query
from notification_service import repository

notifications = Blueprint("notifications", __name__, url_prefix="/api/notifications")


@notifications.get("")
@require_user
@query(*PAGE)
def list_notifications(limit: int, offset: int) -> Response:
    """Return a page of the caller's own notifications, newest first."""
    user_id = g.user["id"]
    with get_db().transaction() as cursor:
        items = repository.list_notifications(cursor, user_id=user_id, limit=limit, offset=offset)
        total = repository.count_notifications(cursor, user_id=user_id)
    return jsonify(items=items, total=total, limit=limit, offset=offset)
