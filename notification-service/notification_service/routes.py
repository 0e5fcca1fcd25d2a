"""Public HTTP endpoints of notification-service."""

from flask import Blueprint, Response, g, jsonify

from flotilla.auth import require_user
from flotilla.db import get_db
from flotilla.schemas import Page
from flotilla.validation import endpoint
from notification_service import repository
from notification_service.schemas import NotificationPage

notifications = Blueprint("notifications", __name__, url_prefix="/api/notifications")


@notifications.get("")
@require_user
@endpoint(query=Page, responses={200: NotificationPage, 503: "The database is unavailable"})
def list_notifications(query: Page) -> Response:
    """Return a page of the caller's own notifications, newest first."""
    user_id, limit, offset = g.user["id"], query.limit, query.offset
    with get_db().transaction() as cursor:
        items = repository.list_notifications(cursor, user_id=user_id, limit=limit, offset=offset)
        total = repository.count_notifications(cursor, user_id=user_id)
    return jsonify(items=items, total=total, limit=limit, offset=offset)
