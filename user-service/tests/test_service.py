"""user-service passes the checks every service with a database passes (flotilla_testing)."""

from flotilla_testing.checks import *  # noqa: F403
