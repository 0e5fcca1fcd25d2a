"""Emails are normalised one way, in Python, and compared as stored: no Unicode is a 500."""

import random
import sys

import pytest

from flotilla.schemas import normalise_email
from flotilla_testing.accounts import PASSWORD

# Characters whose case mappings grow, shrink, or depend on context or locale.
TRICKY = [
    "\u0130",  # LATIN CAPITAL LETTER I WITH DOT ABOVE
    "\u0131",  # LATIN SMALL LETTER DOTLESS I
    "\u00df",  # LATIN SMALL LETTER SHARP S
    "\u1e9e",  # LATIN CAPITAL LETTER SHARP S
    "\u01c5",  # LATIN CAPITAL LETTER D WITH SMALL LETTER Z WITH CARON
    "\u01c8",  # LATIN CAPITAL LETTER L WITH SMALL LETTER J
    "\u03a3",  # GREEK CAPITAL LETTER SIGMA
    "\u03c2",  # GREEK SMALL LETTER FINAL SIGMA
    "\u0390",  # GREEK SMALL LETTER IOTA WITH DIALYTIKA AND TONOS
    "\ufb03",  # LATIN SMALL LIGATURE FFI
    "\u2126",  # OHM SIGN
    "\u212a",  # KELVIN SIGN
    "\u212b",  # ANGSTROM SIGN
    "\u1fbc",  # GREEK CAPITAL LETTER ALPHA WITH PROSGEGRAMMENI
    "\u2167",  # ROMAN NUMERAL EIGHT
    "\u24b6",  # CIRCLED LATIN CAPITAL LETTER A
    "\U00010400",  # DESERET CAPITAL LETTER LONG I
    "\U0001e900",  # ADLAM CAPITAL LETTER ALIF
]


def sign_up_and_log_in(client, email: str) -> tuple[int, int | None]:
    """Register an email, then log in with it upper-cased; return both statuses."""
    body = {"email": email, "password": PASSWORD, "name": "Unicode"}
    registered = client.post("/api/auth/register", json=body).status_code
    if registered != 201:
        return registered, None
    login = {"email": email.upper(), "password": PASSWORD}
    return registered, client.post("/api/auth/login", json=login).status_code


def test_the_database_holds_no_second_normalisation(db):
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE conrelid = 'users'::regclass AND contype = 'c'"
        )
        definitions = [row["definition"] for row in cursor.fetchall()]
    assert not any("lower(" in definition for definition in definitions), definitions


@pytest.mark.parametrize("character", TRICKY)
def test_a_tricky_character_signs_up_and_logs_in(client, character):
    email = f"{character}{character.lower()}{character.upper()}-{id(character)}@example.com"
    registered, logged_in = sign_up_and_log_in(client, email)
    assert registered == 201
    # The upper-cased address is the same account when it lower-cases back to the same text.
    same = normalise_email(email.upper()) == normalise_email(email)
    assert logged_in == (200 if same else 401)


NON_SURROGATES = [*range(0x80, 0xD800), *range(0xE000, 0x3134F)]


def test_random_unicode_is_never_a_500(client):
    seed = random.randrange(sys.maxsize)
    rng = random.Random(seed)
    for number in range(12):
        # Lone surrogates are left out: JSON can carry them, and they are a 400 (API.md).
        characters = "".join(chr(rng.choice(NON_SURROGATES)) for _ in range(3))
        email = f"{characters}{number}-{seed % 10**6}@example.com"
        registered, logged_in = sign_up_and_log_in(client, email)
        assert registered in (201, 422), (seed, email)
        assert logged_in in (None, 200, 401), (seed, email)
