"""No input is a 500 (API.md, "Errors"): flotilla's checks of every request's bytes, seen
through user-service's routes (every service and the gateway build on the same app)."""

import json

import pytest
from gunicorn.http import errors

from flotilla.gunicorn_worker import json_error_bytes, refusal
from flotilla.validation import MAX_JSON_DEPTH
from flotilla_testing.accounts import PASSWORD

# Bytes a header value may start with that Python's str methods and re's \s take for
# whitespace (0x85, 0xA0, 0x1C-0x1F), other controls, and text that is not ASCII.
HEADER_BYTES = ["\xa0", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x00", "\x01"]
HEADER_BYTES += ["\x7f", "\x80", "\xff", "é"]


def assert_refused(response, status: int = 400, code: str = "bad_request") -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == code
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


def post_login_with(client, header: str, value: str):
    return client.post(
        "/api/auth/login",
        data=json.dumps({"email": "a@b.io", "password": PASSWORD}),
        headers={"Content-Type": "application/json", header: value},
    )


@pytest.mark.parametrize("byte", HEADER_BYTES, ids=lambda byte: f"{ord(byte):#04x}")
def test_a_header_value_that_is_not_visible_ascii_is_400(client, byte):
    error = assert_refused(post_login_with(client, "X-Attack", f"{byte}value"))
    assert error["message"].startswith("Header X-Attack ")


@pytest.mark.parametrize("header", ["Authorization", "X-Request-ID", "Content-Type"])
def test_no_header_is_read_before_its_bytes_are_checked(client, header):
    error = assert_refused(post_login_with(client, header, "\xa0value"))
    assert header.lower() in error["message"].lower()


def test_a_tab_and_spaces_inside_a_header_value_are_fine(client):
    response = client.get("/api/users/me", headers={"X-Note": "a\tb c"})
    assert response.status_code == 401  # reached the view: no token


@pytest.mark.parametrize(
    "target",
    [
        "/api/users/me?q=%00",
        "/api/users/me?q=%FF",
        "/api/users/me?q=%ED%A0%80",  # an encoded surrogate is not UTF-8
        "/api/users/me?q=%0B",
        "/api/users/me?%7F=x",
    ],
)
def test_a_query_that_is_not_clean_utf8_text_is_400(client, target):
    assert_refused(client.get(target))


# As gunicorn hands them over: the bytes received (the path percent-decoded), as latin-1.
@pytest.mark.parametrize(
    "environ",
    [
        {"PATH_INFO": "/api/users/\x00"},
        {"PATH_INFO": "/api/users/\xff"},
        {"PATH_INFO": "/api/auth/login\n"},
        {"PATH_INFO": "/api/users/me", "QUERY_STRING": "q=\xff"},
    ],
)
def test_a_path_or_raw_query_that_is_not_clean_utf8_text_is_400(client, environ):
    assert_refused(client.get("/", environ_overrides=environ))


def test_a_query_of_utf8_text_passes(client):
    assert client.get("/api/users/me?q=%C3%A9t%C3%A9+%F0%9F%98%80").status_code == 401


def nested(depth: int) -> str:
    """A name nested depth deep in all: the object, then depth - 1 lists."""
    return '{"name": ' + "[" * (depth - 1) + '"x"' + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000, id="100000 ["),
        pytest.param(b'{"a":' * 50_000, id="50000 {"),
        pytest.param(nested(MAX_JSON_DEPTH + 1).encode(), id="one level too deep"),
        pytest.param(b'{"email": "\\ud800", "password": "x"}', id="lone high surrogate"),
        pytest.param(b'{"email": "a@b.io", "password": "\\udc00"}', id="lone low surrogate"),
        pytest.param(b'{"\\ud800": "x"}', id="lone surrogate in a key"),
        pytest.param(b'{"email": "\xed\xa0\x80", "password": "x"}', id="utf-8 encoded surrogate"),
        pytest.param(b'{"email": "\xff", "password": "x"}', id="invalid utf-8"),
        pytest.param('{"email": "a@b.io"}'.encode("utf-16"), id="utf-16"),
        pytest.param(b'\xef\xbb\xbf{"email": "a@b.io"}', id="byte order mark"),
        pytest.param(b'{"password": ' + b"9" * 5000 + b"}", id="5000 digits"),
    ],
)
def test_a_body_that_is_not_sane_json_is_400(client, body):
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    assert_refused(response, 400, "malformed_json")


def test_nesting_at_the_bound_is_read(client):
    response = client.post(
        "/api/auth/login", data=nested(MAX_JSON_DEPTH), content_type="application/json"
    )
    assert response.status_code == 422  # parsed, then refused for its fields


@pytest.mark.parametrize("name", ["😀 Ada", "\\ud83d\\ude00 Ada", "[" * 50 + "{" * 50])
def test_surrogate_pairs_and_brackets_in_strings_are_plain_text(client, name):
    # Written by hand: json.dumps would escape what this test sends as it is.
    body = f'{{"email": "pair@example.com", "password": "{PASSWORD}", "name": "{name}"}}'
    response = client.post(
        "/api/auth/register", data=body.encode(), content_type="application/json"
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == json.loads(f'"{name}"')


@pytest.mark.parametrize(
    "bad, status", [("\x00", 422), ("\ud800", 400)], ids=["NUL", "lone surrogate"]
)
@pytest.mark.parametrize("field", ["email", "password", "name"])
def test_register_refuses_nul_and_lone_surrogates_in_every_field(client, db, field, bad, status):
    body = {"email": "nul@example.com", "password": PASSWORD, "name": "Ada"}
    body[field] = body[field][:2] + bad + body[field][2:]
    response = client.post(
        "/api/auth/register", data=json.dumps(body), content_type="application/json"
    )
    # A NUL is valid JSON, refused by the field; a lone surrogate is refused as JSON.
    if status == 422:
        assert_refused(response, 422, "validation_error")
        assert field in response.json["error"]["fields"]
    else:
        assert_refused(response, 400, "malformed_json")
    with db.transaction() as cursor:
        cursor.execute("SELECT count(*) AS n FROM users WHERE role = 'customer'")
        assert cursor.fetchone()["n"] == 0


@pytest.mark.parametrize("field", ["email", "password"])
def test_login_refuses_nul_with_422(client, user, field):
    body = {"email": user["email"], "password": PASSWORD}
    body[field] += "\x00"
    response = client.post("/api/auth/login", json=body)
    assert_refused(response, 422, "validation_error")
    assert field in response.json["error"]["fields"]


def test_patch_me_refuses_nul_in_the_name(client, auth_headers):
    response = client.patch("/api/users/me", json={"name": "A\x00da"}, headers=auth_headers)
    assert_refused(response, 422, "validation_error")
    assert response.json["error"]["fields"] == {
        "name": "must not contain NUL or lone surrogate characters"
    }


@pytest.mark.parametrize(
    "error, status, code",
    [
        (errors.InvalidHeader("X-ATTACK"), 400, "bad_request"),
        (errors.InvalidRequestLine("GET /\xff HTTP/1.1"), 400, "bad_request"),
        (errors.LimitRequestLine(9000, 8190), 414, "uri_too_long"),
        (errors.LimitRequestHeaders("too many"), 431, "request_header_fields_too_large"),
        (errors.InvalidResponseHeader("X-Ours", "\n"), 500, "internal_error"),
        (RuntimeError("a bug"), 500, "internal_error"),
    ],
)
def test_what_gunicorn_refuses_is_answered_in_json(error, status, code):
    raw = json_error_bytes(*refusal(error))
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("ascii").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} ")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body)["error"]["code"] == code
    assert json.loads(body)["error"]["request_id"] == headers["X-Request-ID"]
