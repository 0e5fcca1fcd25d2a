"""The smallest app built from flotilla's helpers: what gunicorn serves in these tests."""

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from flotilla import health
from flotilla.app import create_base_app
from flotilla.clients import resolves

# Names ending in this take PROBE_LOOKUP_SECONDS to fail: a stopped container's name on a
# network whose DNS forwards unknown names to a resolver that does not answer.
SLOW_SUFFIX = ".slow.invalid"


def _slow_getaddrinfo(real: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(SLOW_SUFFIX):
            time.sleep(float(os.environ["PROBE_LOOKUP_SECONDS"]))
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    return getaddrinfo


def create_app() -> Flask:
    """Build an app with /livez, /readyz and /metrics, and a route with a variable."""
    if os.environ.get("PROBE_LOOKUP_SECONDS"):
        socket.getaddrinfo = _slow_getaddrinfo(socket.getaddrinfo)
    app = create_base_app(__name__, service="probe")
    app.add_url_rule("/probe/<int:number>", "probe", lambda number: {"number": number})
    # What a Redis or upstream client does before connecting: a lookup bounded by a timeout.
    app.add_url_rule(
        "/probe/lookup/<host>",
        "lookup",
        lambda host: {"resolved": resolves(host, 80, 0.1)},
    )
    health.init_app(app, {})
    return app
