"""Fixtures for the shop's tests in a real browser: headless Chromium (Debian's package)
driven by Selenium through NGINX, as a shopper's browser would see the shop."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from flotilla_testing import accounts

BASE_URL = os.environ.get("BASE_URL", "http://nginx")
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", "/artifacts"))
PASSWORD = accounts.PASSWORD
WAIT_SECONDS = 20


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[WebDriver]:
    """A fresh headless Chromium (no cookies) for each test; closed afterwards."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # The container has no user namespaces for Chromium's sandbox; it is the sandbox here.
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--disable-gpu",
    ):
        options.add_argument(argument)
    # An explicit driver path: Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        if getattr(request.node, "failed", False):
            screenshot(driver, f"failed-{request.node.name}")
        driver.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Remember a failed test, so its browser leaves a screenshot behind."""
    report = yield
    if report.when == "call" and report.failed:
        item.failed = True
    return report


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save what the browser shows as tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def open_page(driver: WebDriver, path: str) -> None:
    """Go to a page of the shop."""
    driver.get(BASE_URL + path)


def wait_for_text(driver: WebDriver, text: str, *, seconds: float = WAIT_SECONDS) -> None:
    """Wait until the page shows text."""

    def shown(driver: WebDriver) -> bool:
        # One call reads the page: an element found first may belong to the page the browser
        # is leaving (a form's redirect), and Chromium then refuses to read it.
        try:
            return text in driver.execute_script("return document.body.innerText")
        except WebDriverException:
            return False

    WebDriverWait(driver, seconds).until(shown, f"the page never showed {text!r}")


def fill(driver: WebDriver, fields: dict[str, str]) -> None:
    """Type into form fields found by their label's id."""
    for field_id, value in fields.items():
        element = driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)


def click(driver: WebDriver, text: str) -> None:
    """Click the button or link with this text."""
    xpath = f"//button[normalize-space()='{text}'] | //a[normalize-space()='{text}']"
    driver.find_element(By.XPATH, xpath).click()


def api(method: str, path: str, **kwargs) -> requests.Response:
    """Call the public API through NGINX (test setup and checks only)."""
    return requests.request(method, BASE_URL + path, timeout=15, **kwargs)


bearer = accounts.bearer_of


@pytest.fixture
def make_product(admin_headers) -> Callable[..., dict]:
    """Create a product through the API."""

    def make(name: str, *, stock: int, price_cents: int = 2450) -> dict:
        body = {
            "sku": f"e2e-{uuid.uuid4().hex[:10]}",
            "name": name,
            "stock": stock,
            "price_cents": price_cents,
            "description": f"{name}, for the browser tests.",
        }
        response = api("POST", "/api/products", json=body, headers=admin_headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def sign_up(browser: WebDriver) -> Callable[[], dict]:
    """Sign up a new shopper with the shop's own form; return its email and password."""

    def run(name: str = "Ada Lovelace", shot: str | None = None) -> dict:
        email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
        open_page(browser, "/signup")
        fill(browser, {"name": name, "email": email, "password": PASSWORD})
        if shot:
            screenshot(browser, shot)
        click(browser, "Create account")
        wait_for_text(browser, f"Welcome, {name}!")
        return {"email": email, "password": PASSWORD}

    return run
