"""What the notifications say: a subject and a plain-text body per event."""


def money(cents: int) -> str:
    """Return an amount in cents as units with two decimals: 1250 -> "12.50"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def welcome(*, name: str, email: str) -> tuple[str, str]:
    """The welcome of a new user."""
    return (
        "Welcome to Flotilla",
        f"Hello {name},\n\nyour Flotilla account {email} is ready. Happy shopping!\n",
    )


def order_confirmed(*, order_id: int, items: list[dict], total_cents: int) -> tuple[str, str]:
    """The confirmation of an order, listing its lines and total."""
    lines = [
        f"  {item['quantity']} x {item['name']} at {money(item['unit_price_cents'])}"
        f" = {money(item['quantity'] * item['unit_price_cents'])}"
        for item in items
    ]
    body = [f"Thank you: your order #{order_id} is confirmed.", "", *lines, ""]
    return f"Order #{order_id} confirmed", "\n".join([*body, f"Total: {money(total_cents)}", ""])


def order_cancelled(*, order_id: int) -> tuple[str, str]:
    """The note that an order was cancelled."""
    return (
        f"Order #{order_id} cancelled",
        f"Your order #{order_id} has been cancelled. Its items are back in stock.\n",
    )


def order_failed(*, order_id: int) -> tuple[str, str]:
    """The note that an order could not be completed."""
    return (
        f"Order #{order_id} could not be completed",
        f"Sorry: your order #{order_id} could not be completed and nothing was reserved"
        " for it. You are welcome to place it again.\n",
    )
