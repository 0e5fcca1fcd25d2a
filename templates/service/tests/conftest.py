"""__SERVICE__'s fixtures; config, app, client, db and the bearer headers come from the
flotilla plugin."""

import pytest

from flotilla.db import Database


@pytest.fixture(autouse=True)
def clean(db: Database) -> Database:
    """Every test starts with no entries."""
    with db.transaction() as cursor:
        cursor.execute("TRUNCATE entries RESTART IDENTITY")
    return db
