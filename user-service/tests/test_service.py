"""user-service's foundation: health, its own database and role."""

from flotilla_testing.checks import ServiceWithDatabase


class TestFoundation(ServiceWithDatabase):
    """Health, migrations and the least-privileged role (flotilla_testing.checks)."""
