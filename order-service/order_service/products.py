"""order-service's view of product-service: its internal reservation API."""

import logging

from flask import Flask

from flotilla.app import Slot
from flotilla.clients import ServiceClient, error_of
from flotilla.errors import ApiError
from flotilla.internal import service_headers
from order_service.config import Config

log = logging.getLogger(__name__)


class ProductService:
    """Reserve, commit and release stock; product-service's answers as ApiError."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def create(
        cls, base_url: str, *, token: str, connect_timeout: float, read_timeout: float
    ) -> "ProductService":
        """Return a client for product-service at base_url."""
        return cls(
            ServiceClient(
                base_url,
                name="product-service",
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                headers=service_headers(token),
            )
        )

    def reserve(self, *, reservation_id: str, lines: list[dict]) -> dict:
        """Reserve every line or none; return {id, status, items} with names and prices."""
        response = self.client.request(
            "POST",
            "/internal/reservations",
            json={"reservation_id": reservation_id, "items": lines},
        )
        if response.status_code in {200, 201}:
            return response.json()
        error = error_of(response)
        if response.status_code == 409 and error.get("code") == "out_of_stock":
            raise ApiError(409, "out_of_stock", error.get("message", "Out of stock"))
        if response.status_code == 422:
            raise ApiError(
                422,
                "validation_error",
                error.get("message", "Invalid order"),
                fields=error.get("fields") or {},
            )
        raise self._unexpected("reserve", response.status_code)

    def commit(self, *, reservation_id: str) -> None:
        """Turn a reservation into a sale."""
        self._call("commit", reservation_id)

    def release(self, *, reservation_id: str) -> None:
        """Give a reservation's stock back (product-service does it once, however often asked)."""
        self._call("release", reservation_id)

    def _call(self, action: str, reservation_id: str) -> None:
        response = self.client.request("POST", f"/internal/reservations/{reservation_id}/{action}")
        if response.status_code != 200:
            raise self._unexpected(action, response.status_code)

    @staticmethod
    def _unexpected(action: str, status: int) -> ApiError:
        # A 4xx here means the two services disagree: that is our fault, not the client's.
        log.error(
            "unexpected answer from product-service", extra={"action": action, "status": status}
        )
        return ApiError(502, "bad_gateway", f"product-service refused to {action} ({status})")


PRODUCTS: Slot[ProductService] = Slot("product_service")


def register_products(app: Flask, config: Config) -> None:
    """Give the app its product-service client (PRODUCTS.get())."""
    PRODUCTS.set(
        app,
        ProductService.create(
            config.product_service_url,
            token=config.internal_token,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        ),
    )
