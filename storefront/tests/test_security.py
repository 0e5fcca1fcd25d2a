"""Tokens stay server side; CSRF, cookie flags and headers; errors are pages, never traces."""

import dataclasses
import json
import re
import uuid

import pytest

from flotilla.config import ConfigError, Env
from flotilla.errors import ApiError
from storefront.config import Config
from storefront.security import friendly_message
from storefront.sessions import KEY_PREFIX

from conftest import PASSWORD, add_to_cart, csrf_of


def test_the_cookie_is_a_signed_id_and_the_tokens_stay_in_redis(shopper, store):
    client = shopper["client"]
    cookie = client.get_cookie("flotilla_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    sid, _, signature = cookie.value.rpartition(".")
    assert sid and signature and "eyJ" not in cookie.value  # no JWT in it
    stored = json.loads(store.get(KEY_PREFIX + sid))
    assert stored["access_token"].startswith("eyJ") and stored["refresh_token"]
    for path in ("/", "/orders", "/notifications", "/cart"):
        assert stored["access_token"] not in client.get(path).text


def test_a_forged_cookie_is_a_new_session(app, shopper):
    cookie = shopper["client"].get_cookie("flotilla_session")
    sid = cookie.value.rpartition(".")[0]
    forger = app.test_client()
    forger.set_cookie("flotilla_session", sid + ".forgedsignature")
    assert forger.get("/orders").status_code == 302  # not logged in


def test_cookies_are_secure_when_configured(app_with, make_product):
    client = app_with(secure_cookies=True).test_client()
    client.get("/login")
    # No sibling subdomain can plant a __Host- cookie: the visitor's CSRF token is the shop's.
    assert client.get_cookie("__Host-flotilla_visitor").secure
    add_to_cart(client, make_product()["id"], 1)
    assert client.get_cookie("flotilla_session").secure


def test_log_in_changes_the_session_id_and_log_out_deletes_it(client, shopper, store):
    client = shopper["client"]
    sid = client.get_cookie("flotilla_session").value.rpartition(".")[0]
    assert store.exists(KEY_PREFIX + sid)
    response = client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    assert response.status_code == 302
    assert not store.exists(KEY_PREFIX + sid)
    assert client.get("/orders").status_code == 302


def test_log_in_with_a_wrong_password_says_so(client, shopper):
    response = client.post(
        "/login",
        data={
            "email": shopper["email"],
            "password": "wrong password!",
            "csrf_token": csrf_of(client),
        },
    )
    assert response.status_code == 401
    assert "do not match an account" in response.text


def test_log_in_goes_back_only_to_a_local_page(app, shopper):
    client = app.test_client()
    for target, expected in [
        ("/orders", "/orders"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        # Browsers drop tabs and newlines from URLs: "/\t/evil.example" is "//evil.example".
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("/\x00/evil.example", "/"),
        ("/\x7f/evil.example", "/"),
        ("/\u2028/evil.example", "/"),
        ("https:/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/orders?page=2", "/orders?page=2"),
    ]:
        response = client.post(
            "/login",
            data={
                "email": shopper["email"],
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_of(client),
            },
        )
        assert response.headers["Location"] == expected


def test_sign_up_errors_are_shown_by_field(client, shopper):
    token = csrf_of(client, "/signup")
    taken = client.post(
        "/signup",
        data={"name": "A", "email": shopper["email"], "password": PASSWORD, "csrf_token": token},
    )
    assert taken.status_code == 409 and "already has an account" in taken.text
    short = client.post(
        "/signup",
        data={"name": "A", "email": "x@example.com", "password": "short", "csrf_token": token},
    )
    assert short.status_code == 422 and 'aria-invalid="true"' in short.text


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_a_form_without_this_sessions_csrf_token_is_refused(shopper, make_product, token):
    client = shopper["client"]
    product = make_product()
    data = {"product_id": product["id"], "quantity": 1}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/cart", data=data)
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert "Your cart is empty" in client.get("/cart").text


def test_every_form_carries_a_csrf_token(shopper, make_product):
    client = shopper["client"]
    product = make_product()
    add_to_cart(client, product["id"], 1)
    for path in ("/", "/login", "/signup", f"/products/{product['id']}", "/cart", "/checkout"):
        page = client.get(path).text
        forms = re.findall(r'<form method="post".*?</form>', page, re.S)
        assert all('name="csrf_token"' in form for form in forms), path


def test_pages_have_a_strict_content_security_policy(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"


def test_the_stylesheet_is_served(client):
    response = client.get("/static/shop.css")
    assert response.status_code == 200 and "focus-visible" in response.text


def test_a_dead_api_is_a_friendly_page(app_with):
    page = app_with(api_url="http://127.0.0.1:1").test_client().get("/")
    assert page.status_code == 503
    assert "not available right now" in page.text
    assert "Traceback" not in page.text


def test_a_dead_session_store_is_a_friendly_page(app_with, config, make_product):
    client = app_with().test_client()
    add_to_cart(client, make_product()["id"], 1)  # a stored session, with its cookie
    cookie = client.get_cookie("flotilla_session")
    dead = app_with(sessions_redis_url="redis://:x@127.0.0.1:1/2").test_client()
    dead.set_cookie(cookie.key, cookie.value)
    page = dead.get("/cart")
    assert page.status_code == 503 and "not available right now" in page.text
    assert dead.get("/readyz").json["checks"]["redis"] == "failing"


def test_readyz_checks_the_session_store(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["checks"]["redis"] == "ok"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ApiError(429, "rate_limited", "x", headers={"Retry-After": "7"}), "try again in 7 s"),
        (ApiError(502, "bad_gateway", "user-service answered 500"), "not answering"),
        (ApiError(503, "service_unavailable", "order-service is down"), "not available"),
        (ApiError(504, "gateway_timeout", "x"), "took too long"),
        (ApiError(409, "out_of_stock", "Product 7 has 2 left"), "Product 7 has 2 left"),
    ],
)
def test_api_errors_read_as_plain_words(error, message):
    assert message in friendly_message(error)


def test_production_refuses_the_development_session_secret():
    env = {"FLOTILLA_ENV": "production", "DB_PASSWORD": "x", "REDIS_PASSWORD": "a-real-one"}
    with pytest.raises(ConfigError, match="SESSION_SECRET"):
        Config.from_env(Env(env))
    with pytest.raises(ConfigError, match="SESSION_SECRET"):
        Config.from_env(Env({**env, "SESSION_SECRET": "storefront-dev-session-secret"}))
    config = Config.from_env(Env({**env, "SESSION_SECRET": uuid.uuid4().hex * 2}))
    assert config.secure_cookies and dataclasses.asdict(config)["api_url"].endswith(":8000")


def test_the_storefront_talks_to_the_gateway_only(config):
    assert config.api_url == "http://api-gateway:8000"


def test_a_session_whose_tokens_the_api_refuses_goes_to_log_in(shopper, store):
    client = shopper["client"]
    sid = client.get_cookie("flotilla_session").value.rpartition(".")[0]
    session = json.loads(store.get(KEY_PREFIX + sid))
    session["access_token"] = "not-a-token"
    store.set(KEY_PREFIX + sid, json.dumps(session), ex=60)
    response = client.get("/orders")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/orders"
    assert "Your session has ended" in client.get("/login").text
