"""What every template may use: money, dates and who is logged in."""

from datetime import datetime
from typing import Any

from flask import Flask, session


def money(cents: int) -> str:
    """Format integer cents as a price."""
    return f"${cents / 100:,.2f}"


def when(timestamp: str) -> str:
    """Format an RFC 3339 timestamp for people."""
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).strftime(
            "%d %b %Y, %H:%M UTC"
        )
    except (AttributeError, ValueError):
        return str(timestamp)


def shopper() -> dict[str, Any]:
    """What the layout shows about the visitor: who they are and the cart's size."""
    return {
        "user": session.get("user") if "access_token" in session else None,
        "cart_count": sum(session.get("cart", {}).values()),
    }


def init_app(app: Flask) -> None:
    """Register the template filters and globals."""
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["when"] = when
    app.context_processor(shopper)
