"""__SERVICE__'s foundation: health, its own database, the checks every service passes."""

import psycopg2
import pytest

from flotilla_testing.checks import ServiceWithDatabase


class TestFoundation(ServiceWithDatabase):
    """Health, migrations and the least-privileged role (flotilla_testing.checks)."""


def test_the_database_refuses_an_empty_name(db):
    with pytest.raises(psycopg2.IntegrityError), db.transaction() as cursor:
        cursor.execute("INSERT INTO entries (name) VALUES ('')")
