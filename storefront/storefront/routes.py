"""The shop's pages: catalog, product, cart, checkout, account, orders, notifications."""

import math
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from flotilla.errors import ApiError
from storefront import api
from storefront.security import ShopError, friendly_message

shop = Blueprint("shop", __name__)

MAX_QUANTITY = 1000
MAX_CART_LINES = 50
# Checkout forms remembered per session (their keys and the cart they were shown with).
MAX_CHECKOUTS = 10
# How long a second "Place order" waits for the first, still running, to finish.
IN_FLIGHT_WAIT_SECONDS = 10


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a visitor who is not logged in to the log-in page, and back afterwards."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "access_token" not in session:
            flash("Please log in first.", "info")
            return redirect(url_for("shop.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def form_int(name: str, *, low: int, high: int) -> int:
    """Return a whole number from the posted form, or refuse the form."""
    try:
        value = int(request.form.get(name, ""))
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ShopError(400, f"Please enter a whole number from {low} to {high}.")
    return value


@shop.get("/")
def catalog() -> str:
    """The catalog: a page of products, searchable by name."""
    size = current_app.config["SETTINGS"].page_size
    query = request.args.get("q", "").strip()[:100]
    page = page_number()
    params = {"limit": size, "offset": (page - 1) * size, **({"q": query} if query else {})}
    result = api.call("GET", "/api/products?" + urlencode(params))
    return render_template(
        "catalog.html",
        products=result["items"],
        total=result["total"],
        q=query,
        page=page,
        pages=max(1, math.ceil(result["total"] / size)),
    )


def page_number() -> int:
    """Return the page the query string asks for: 1 unless it names a later one."""
    return max(1, request.args.get("page", 1, type=int))


@shop.get("/products/<int:product_id>")
def product(product_id: int) -> str:
    """One product, its stock and an add-to-cart form."""
    item = api.call("GET", f"/api/products/{product_id}")
    return render_template("product.html", product=item, in_cart=cart().get(str(product_id), 0))


def cart() -> dict[str, int]:
    """Return the cart: product id (as text) to quantity."""
    return session.get("cart", {})


@shop.post("/cart")
def add_to_cart() -> Response:
    """Add a quantity of a product to the cart."""
    product_id = form_int("product_id", low=1, high=10**18)
    quantity = form_int("quantity", low=1, high=MAX_QUANTITY)
    lines = dict(cart())
    if str(product_id) not in lines and len(lines) >= MAX_CART_LINES:
        raise ShopError(400, f"A cart holds at most {MAX_CART_LINES} different products.")
    lines[str(product_id)] = min(MAX_QUANTITY, lines.get(str(product_id), 0) + quantity)
    session["cart"] = lines
    flash("Added to your cart.", "success")
    return redirect(url_for("shop.view_cart"))


@shop.post("/cart/<int:product_id>")
def update_cart(product_id: int) -> Response:
    """Change a line's quantity; 0 removes it."""
    quantity = form_int("quantity", low=0, high=MAX_QUANTITY)
    lines = dict(cart())
    if quantity:
        lines[str(product_id)] = quantity
    else:
        lines.pop(str(product_id), None)
    session["cart"] = lines
    return redirect(url_for("shop.view_cart"))


def cart_lines() -> tuple[list[dict], int]:
    """Return the cart's lines with their products, and the total in cents."""
    lines = []
    for product_id, quantity in cart().items():
        try:
            item = api.call("GET", f"/api/products/{product_id}")
        except ApiError as error:
            if error.status != 404:
                raise
            item = None
        lines.append({"product_id": int(product_id), "quantity": quantity, "product": item})
    total = sum(
        line["product"]["price_cents"] * line["quantity"] for line in lines if line["product"]
    )
    return lines, total


@shop.get("/cart")
def view_cart() -> str:
    """The cart, with a form per line."""
    lines, total = cart_lines()
    return render_template("cart.html", lines=lines, total=total)


def new_checkout() -> str:
    """Return a new checkout form's key, kept with the cart (in id order) it is shown with."""
    key = str(uuid.uuid4())
    items = sorted((int(product_id), quantity) for product_id, quantity in cart().items())
    checkouts = dict(session.get("checkouts", {}))
    checkouts[key] = {
        "items": [{"product_id": p, "quantity": q} for p, q in items],
        "order_id": None,
    }
    session["checkouts"] = dict(list(checkouts.items())[-MAX_CHECKOUTS:])
    return key


@shop.get("/checkout")
@login_required
def checkout() -> str | Response:
    """The order summary and "Place order", with a new Idempotency-Key in the form."""
    lines, total = cart_lines()
    if not lines:
        flash("Your cart is empty.", "info")
        return redirect(url_for("shop.view_cart"))
    return render_template("checkout.html", lines=lines, total=total, key=new_checkout())


@shop.post("/checkout")
@login_required
def place_order() -> str | Response:
    """Place the order shown in the form, once, however often the form is sent."""
    key = request.form.get("idempotency_key", "")
    remembered = session.get("checkouts", {}).get(key)
    if not remembered:
        flash("That checkout form has expired: please check your cart and try again.", "error")
        return redirect(url_for("shop.checkout"))
    if remembered["order_id"]:  # this form's order was placed already (a second click)
        return redirect(url_for("shop.order", order_id=remembered["order_id"]))
    try:
        order = post_order(key, remembered["items"])
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        lines, total = cart_lines()
        message = out_of_stock_message(error, lines)
        return render_template(
            "checkout.html", lines=lines, total=total, key=new_checkout(), error=message
        ), error.status
    checkouts = dict(session.get("checkouts", {}))
    checkouts[key] = {**remembered, "order_id": order["id"]}
    session["checkouts"] = checkouts
    session["cart"] = {}
    flash(f"Thank you! Order #{order['id']} is {order['status']}.", "success")
    return redirect(url_for("shop.order", order_id=order["id"]))


def post_order(key: str, items: list[dict]) -> dict:
    """POST the order with its Idempotency-Key; while the same key is still being handled
    (a double click), wait for that first request's answer instead of failing."""
    deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
    while True:
        try:
            return api.call(
                "POST",
                "/api/orders",
                json={"items": items},
                auth=True,
                headers={"Idempotency-Key": key},
            )
        except ApiError as error:
            # 409 idempotency_conflict: the first request is still running; its answer is
            # replayed to this one as soon as it is done. A 5xx: retried with the same key.
            retry = error.code == "idempotency_conflict" or error.status >= 502
            if not retry or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def out_of_stock_message(error: ApiError, lines: list[dict]) -> str:
    """Say which product ran out, by name, when the API's message names its id."""
    if error.code == "out_of_stock":
        for line in lines:
            item = line["product"]
            if item and line["quantity"] > item["stock"]:
                return (
                    f"Sorry, {item['name']} has only {item['stock']} left. "
                    "Please change the quantity in your cart."
                )
        return "Sorry, something in your cart is out of stock. Please check your cart."
    if error.code == "idempotency_key_reused":
        return "Your cart changed while you were checking out. Please check it and try again."
    return friendly_message(error)


@shop.get("/orders")
@login_required
def orders() -> str:
    """The shopper's orders, newest first."""
    size = current_app.config["SETTINGS"].page_size
    page = page_number()
    result = api.call("GET", f"/api/orders?limit={size}&offset={(page - 1) * size}", auth=True)
    pages = max(1, math.ceil(result["total"] / size)) if "total" in result else page
    return render_template("orders.html", orders=result["items"], page=page, pages=pages)


@shop.get("/orders/<int:order_id>")
@login_required
def order(order_id: int) -> str:
    """One order and, while it is confirmed, a cancel button."""
    return render_template(
        "order.html", order=api.call("GET", f"/api/orders/{order_id}", auth=True)
    )


@shop.post("/orders/<int:order_id>/cancel")
@login_required
def cancel_order(order_id: int) -> Response:
    """Cancel an order (stock goes back); cancelling twice changes nothing."""
    api.call("POST", f"/api/orders/{order_id}/cancel", auth=True)
    flash(f"Order #{order_id} is cancelled.", "success")
    return redirect(url_for("shop.order", order_id=order_id))


@shop.get("/notifications")
@login_required
def notifications() -> str:
    """The shopper's notifications, newest first."""
    result = api.call("GET", "/api/notifications?limit=50", auth=True)
    return render_template("notifications.html", notifications=result["items"])


@shop.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response | tuple[str, int]:
    """Create an account, then log in with it."""
    if request.method == "GET":
        return render_template("signup.html", form={}, errors={})
    form = {key: request.form.get(key, "") for key in ("name", "email")}
    password = request.form.get("password", "")
    try:
        api.call("POST", "/api/auth/register", json={**form, "password": password})
        api.log_in(form["email"], password)
    except ApiError as error:
        if error.status not in (409, 422):
            raise
        errors = error.fields or {}
        message = "Please correct the fields below."
        if error.code == "email_taken":
            message = "That email already has an account."
        return render_template("signup.html", form=form, errors=errors, error=message), error.status
    flash(f"Welcome, {session['user']['name']}!", "success")
    return redirect(url_for("shop.catalog"))


def safe_next(target: str | None) -> str:
    """Return a same-site path to go back to after log-in: never a scheme, a host, a
    backslash or a control character (a browser drops a tab: "/", tab, "/x" means "//x")."""
    if target and is_local_path(target):
        return target
    return url_for("shop.catalog")


def is_local_path(target: str) -> bool:
    """Tell whether a redirect target can only mean a path on this site."""
    parts = urlsplit(target)
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()  # no control, format or separator character but " "
        and not parts.scheme
        and not parts.netloc
    )


@shop.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Log in; tokens go to the server-side session, never to the browser."""
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", email="", next=next_path)
    email = request.form.get("email", "")
    try:
        api.log_in(email, request.form.get("password", ""))
    except ApiError as error:
        if error.status not in (400, 401, 422):
            raise
        message = "That email and password do not match an account."
        return render_template("login.html", email=email, next=next_path, error=message), 401
    flash(f"Hello, {session['user']['name']}!", "success")
    return redirect(next_path)


@shop.post("/logout")
def logout() -> Response:
    """Log out: the API session ends, the server-side session is deleted."""
    api.log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("shop.catalog"))
