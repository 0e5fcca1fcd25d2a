"""The base Flask app every service builds on."""

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from flotilla.errors import register_error_handlers
from flotilla.logs import configure_logging, register_request_logging
from flotilla.metrics import register_metrics
from flotilla.validation import check_request_bytes

MAX_BODY_BYTES = 1024 * 1024


class JSONProvider(DefaultJSONProvider):
    """JSON with RFC 3339 UTC timestamps (Flask's default is an HTTP date)."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        """Serialise what the json module cannot."""
        if isinstance(o, datetime):
            return o.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return DefaultJSONProvider.default(o)


class IdConverter(IntegerConverter):
    """`<int:...>` for BIGINT ids: at most 18 digits, so a larger number matches no route (404).

    A `max=` bound would be checked only after the path matched, which makes werkzeug answer
    405 instead of 404 for the other methods of the same path.
    """

    regex = r"\d{1,18}"


def create_base_app(import_name: str, *, service: str, log_level: str = "INFO") -> Flask:
    """Return a Flask app with JSON errors, request ids, logs, /metrics and checked request text."""
    configure_logging(service, log_level)
    app = Flask(import_name)
    app.config["SERVICE_NAME"] = service
    app.json = JSONProvider(app)
    # "//" in a path is not silently redirected: the gateway must see what was sent.
    app.url_map.merge_slashes = False
    app.url_map.converters["int"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    register_error_handlers(app)
    register_request_logging(app)
    # Before the bytes check, so that the requests it refuses are counted too.
    register_metrics(app)
    # After the request id is set (so the 400 carries it), before anything reads the request.
    app.before_request(check_request_bytes)
    return app
