"""order-service's view of product-service: its internal reservation API."""

import logging

import requests
from flask import Flask, current_app

from flotilla import faults
from flotilla.clients import ServiceClient, error_of
from flotilla.errors import ApiError
from flotilla.internal import service_headers
from order_service.config import Config

log = logging.getLogger(__name__)


class ReservationReleasedError(Exception):
    """The reservation was released (or resolved before it arrived): it can take no stock."""


class ProductService:
    """Reserve, resolve and release stock; product-service's answers as ApiError."""

    def __init__(self, client: ServiceClient, *, forward_faults: bool = False) -> None:
        self.client = client
        self.forward_faults = forward_faults

    @classmethod
    def create(cls, config: Config) -> "ProductService":
        """Return a client for the product-service the configuration names."""
        client = ServiceClient(
            config.product_service_url,
            name="product-service",
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            headers=service_headers(config.internal_token),
        )
        return cls(client, forward_faults=config.fault_injection)

    def reserve(self, *, reservation_id: str, lines: list[dict]) -> dict:
        """Take the stock of every line or none; return {id, status, items} with names and prices.

        Repeating it returns the first result. Raises 409 out_of_stock or 422 for a definite
        refusal, and ReservationReleasedError when the id can no longer take stock.
        """
        response = self._post(
            "/internal/reservations", {"reservation_id": reservation_id, "items": lines}
        )
        if response.status_code in {200, 201}:
            return response.json()
        error = error_of(response)
        if response.status_code == 409 and error.get("code") == "out_of_stock":
            raise ApiError(409, "out_of_stock", error.get("message", "Out of stock"))
        if response.status_code == 409 and error.get("code") == "conflict":
            raise ReservationReleasedError(reservation_id)
        if response.status_code == 422:
            raise ApiError(
                422,
                "validation_error",
                error.get("message", "Invalid order"),
                fields=error.get("fields") or {},
            )
        raise self._unexpected("reserve", response.status_code)

    def resolve(self, *, reservation_id: str) -> dict:
        """Return {id, status, items}: `committed` if it took stock, else `released` for good."""
        return self._action("resolve", reservation_id).json()

    def release(self, *, reservation_id: str) -> None:
        """Give a reservation's stock back (product-service does it once, however often asked)."""
        self._action("release", reservation_id)

    def _action(self, action: str, reservation_id: str) -> requests.Response:
        response = self._post(f"/internal/reservations/{reservation_id}/{action}")
        if response.status_code != 200:
            raise self._unexpected(action, response.status_code)
        return response

    def _post(self, path: str, body: dict | None = None) -> requests.Response:
        # Tests name a step at which product-service crashes (flotilla.faults).
        headers = faults.forwarded(enabled=self.forward_faults)
        return self.client.request("POST", path, json=body, headers=headers)

    @staticmethod
    def _unexpected(action: str, status: int) -> ApiError:
        # A 4xx here means the two services disagree: that is our fault, not the client's.
        log.error(
            "unexpected answer from product-service", extra={"action": action, "status": status}
        )
        return ApiError(502, "bad_gateway", f"product-service refused to {action} ({status})")


def init_app(app: Flask, config: Config) -> None:
    """Give the app its product-service client (product_service())."""
    app.extensions["order_service.products"] = ProductService.create(config)


def product_service() -> ProductService:
    """Return the current app's product-service client."""
    return current_app.extensions["order_service.products"]
