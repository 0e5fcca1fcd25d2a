"""A shopper's journeys through the shop, in headless Chromium, with a screenshot per page."""

import time
import uuid

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from conftest import api, bearer, click, fill, open_page, screenshot, wait_for_text

pytestmark = pytest.mark.needs("storefront")

NOTIFICATION_SECONDS = 60


def test_sign_up_search_buy_see_the_notification_cancel_and_log_out(browser, sign_up, make_product):
    tag = uuid.uuid4().hex[:6]
    product = make_product(f"Harbour lantern {tag}", stock=5, price_cents=2450)
    make_product(f"Harbour rope {tag}", stock=12, price_cents=990)
    sign_up(shot="01-sign-up")

    fill(browser, {"q": f"harbour lantern {tag}"})
    click(browser, "Search")
    wait_for_text(browser, f"Products matching “harbour lantern {tag}”")
    assert f"Harbour rope {tag}" not in browser.page_source
    screenshot(browser, "02-search")

    click(browser, product["name"])
    wait_for_text(browser, "5 in stock")
    fill(browser, {"quantity": "2"})
    screenshot(browser, "03-product")
    click(browser, "Add to cart")
    wait_for_text(browser, "Added to your cart.")
    assert "$49.00" in browser.page_source
    screenshot(browser, "04-cart")

    click(browser, "Checkout")
    wait_for_text(browser, "Place order")
    screenshot(browser, "05-checkout")
    click(browser, "Place order")
    wait_for_text(browser, "is confirmed")
    order_id = browser.find_element(By.TAG_NAME, "h1").text.removeprefix("Order #")
    assert browser.find_element(By.ID, "order-status").text.lower() == "confirmed"
    screenshot(browser, "06-order-confirmed")

    # The notification comes through RabbitMQ a moment later: reload until it shows.
    deadline = time.monotonic() + NOTIFICATION_SECONDS
    while True:
        open_page(browser, "/notifications")
        if f"Order #{order_id}" in browser.page_source:
            break
        assert time.monotonic() < deadline, "no notification of the order"
        time.sleep(1)
    screenshot(browser, "07-notifications")

    open_page(browser, f"/orders/{order_id}")
    click(browser, "Cancel order")
    wait_for_text(browser, f"Order #{order_id} is cancelled.")
    assert browser.find_element(By.ID, "order-status").text.lower() == "cancelled"
    assert api("GET", f"/api/products/{product['id']}").json()["stock"] == 5
    open_page(browser, "/orders")
    screenshot(browser, "08-my-orders")

    click(browser, "Log out Ada Lovelace")
    wait_for_text(browser, "You are logged out.")
    assert browser.find_elements(By.LINK_TEXT, "Log in")
    screenshot(browser, "09-logged-out")
    open_page(browser, "/orders")
    wait_for_text(browser, "Please log in first.")


def test_a_double_click_on_place_order_makes_one_order(browser, sign_up, make_product):
    product = make_product(f"Double-click compass {uuid.uuid4().hex[:6]}", stock=10)
    shopper = sign_up(name="Grace Hopper")
    open_page(browser, f"/products/{product['id']}")
    click(browser, "Add to cart")
    wait_for_text(browser, "Added to your cart.")
    click(browser, "Checkout")
    wait_for_text(browser, "Place order")
    ActionChains(browser).double_click(browser.find_element(By.ID, "place-order")).perform()
    wait_for_text(browser, "Status:")
    screenshot(browser, "10-double-click")
    orders = api("GET", "/api/orders", headers=bearer(shopper["email"], shopper["password"]))
    assert orders.json()["total"] == 1, orders.text
    assert api("GET", f"/api/products/{product['id']}").json()["stock"] == 9


def test_an_out_of_stock_checkout_shows_the_message(browser, sign_up, make_product):
    product = make_product(f"Last sextant {uuid.uuid4().hex[:6]}", stock=1)
    shopper = sign_up(name="Mary Somerville")
    open_page(browser, f"/products/{product['id']}")
    fill(browser, {"quantity": "3"})
    click(browser, "Add to cart")
    wait_for_text(browser, "Added to your cart.")
    click(browser, "Checkout")
    wait_for_text(browser, "Place order")
    click(browser, "Place order")
    wait_for_text(browser, f"Sorry, {product['name']} has only 1 left.")
    screenshot(browser, "11-out-of-stock")
    orders = api("GET", "/api/orders", headers=bearer(shopper["email"], shopper["password"]))
    assert orders.json()["total"] == 0


def test_the_catalog_fits_a_phone(browser, make_product):
    make_product(f"Pocket tide table {uuid.uuid4().hex[:6]}", stock=3)
    browser.set_window_size(390, 844)
    open_page(browser, "/")
    wait_for_text(browser, "Catalog")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "12-phone-catalog")


def test_a_field_shows_where_keyboard_focus_is(browser):
    open_page(browser, "/login")
    field = browser.find_element(By.ID, "email")
    assert browser.find_element(By.CSS_SELECTOR, "label[for='email']").text == "Email"
    field.click()
    assert (
        browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", field)
        == "solid"
    )
