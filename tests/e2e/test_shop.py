"""The shop in a real browser: find a product, add it to the cart, check out with a new address,
pay with the sandbox test card and see the order in /me/orders; and buy now from a live room."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.integration.api import Api

from .conftest import Web, euros, live_show, open_room, shop_owner, unique


def product_of(api: Api, seller, title: str, price: int, stock: int) -> dict:
    p = api.product(seller, price=price, stock=stock)
    r = api.http.patch(f"/api/v1/products/{p['id']}", headers=seller.headers,
                       json={"title": title, "description": "Pressed in 1977.\nSleeve in good shape."})
    assert r.status_code == 200, r.text
    return r.json()["product"]


def fill_address(page: Page) -> None:
    for name, value in {"name": "Grace Hopper", "line1": "7 Harbour Street", "city": "Hamburg",
                        "postal_code": "20457", "country": "de", "phone": "+49 40 123456"}.items():
        page.get_by_test_id(f"address-{name}").fill(value)


def test_search_add_to_cart_check_out_with_a_new_address_and_pay(web: Web, api: Api) -> None:
    seller, buyer = shop_owner(api, "Vera"), api.user("Buyer")
    title = unique("Rumours LP")
    product = product_of(api, seller, title, price=2250, stock=4)
    page = web.page(buyer, f"/?q={title.split()[-1]}")
    page.get_by_test_id("result-card").filter(has_text=title).click()
    page.wait_for_url(f"**/products/{product['id']}")
    expect(page.get_by_test_id("product-title")).to_have_text(title)
    expect(page.get_by_test_id("product-price")).to_have_text(euros(2250))
    expect(page.get_by_test_id("product-stock")).to_have_text("4 left")
    expect(page.get_by_test_id("product-shop")).to_contain_text("Vera")

    page.get_by_test_id("quantity-picker").get_by_label("One more").click()
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("product-notice")).to_contain_text("Added 2")
    expect(page.get_by_test_id("cart-count")).to_have_text("2")
    page.get_by_test_id("go-to-cart").click()
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    expect(page.get_by_test_id("cart-subtotal")).to_have_text(euros(4500))
    page.get_by_test_id("cart-checkout").click()

    page.wait_for_url("**/checkout")
    expect(page.get_by_test_id("address-form")).to_be_visible()  # no saved address yet
    fill_address(page)
    expect(page.get_by_test_id("checkout-total")).to_have_text(euros(4500 + 490))
    page.get_by_test_id("ship-express").check()
    expect(page.get_by_test_id("checkout-total")).to_have_text(euros(4500 + 990))
    page.get_by_test_id("checkout-continue").click()

    expect(page.get_by_test_id("checkout-order")).to_have_count(1)
    assert api.http.get(f"/api/v1/products/{product['id']}").json()["product"]["stock"] == 2  # reserved
    page.get_by_test_id("checkout-card").fill("4242 4242 4242 4242")
    page.get_by_test_id("checkout-pay").click()
    expect(page.get_by_test_id("checkout-done")).to_be_visible()
    expect(page.get_by_test_id("cart-count")).to_be_hidden()

    page.get_by_test_id("checkout-orders-link").click()
    page.wait_for_url("**/me/orders")
    row = page.get_by_test_id("my-order-row").first
    expect(row).to_contain_text(title)
    expect(row.get_by_test_id("order-status")).to_have_attribute("data-status", "paid")
    (order,) = api.orders(buyer)
    assert order["status"] == "paid" and order["total"]["amount"] == 4500 + 990
    saved = api.http.get("/api/v1/me/addresses", headers=buyer.headers).json()["addresses"]
    assert [(a["city"], a["country"], a["is_default"]) for a in saved] == [("Hamburg", "DE", True)]
    web.assert_no_console_errors()


def test_buy_now_from_the_live_room_without_leaving_it(web: Web, api: Api) -> None:
    seller, buyer = shop_owner(api, "Rita"), api.user("Viewer")
    show = live_show(api, seller, [unique("Bomber jacket")], duration_seconds=300)
    title = unique("Silk scarf")
    scarf = product_of(api, seller, title, price=1800, stock=3)
    r = api.http.post("/api/v1/me/addresses", headers=buyer.headers, json={
        "name": "Viewer", "line1": "1 Main St", "city": "Vienna", "postal_code": "1010",
        "country": "AT", "phone": "+43 1 234567"})
    assert r.status_code == 201, r.text

    page = open_room(web, buyer, show["room_id"])
    page.get_by_test_id("room-shop-open").click()
    item = page.get_by_test_id("room-shop-item").filter(has_text=title)
    expect(item).to_contain_text("3 left")
    item.get_by_test_id("room-buy-now").click()
    sheet = page.get_by_test_id("buy-sheet")
    expect(sheet.get_by_test_id("address-option")).to_have_count(1)
    expect(sheet.get_by_test_id("checkout-total")).to_have_text(euros(1800 + 490))
    sheet.get_by_test_id("checkout-continue").click()
    sheet.get_by_test_id("checkout-card").fill("4242424242424242")
    sheet.get_by_test_id("checkout-pay").click()
    expect(sheet.get_by_test_id("checkout-done")).to_be_visible()
    assert page.url.endswith(f"/rooms/{show['room_id']}")  # still in the room
    expect(page.get_by_test_id("room-price")).to_be_visible()
    sheet.get_by_test_id("sheet-close").click()
    page.get_by_test_id("room-shop-open").click()
    expect(item).to_contain_text("2 left")
    (order,) = api.orders(buyer)
    assert order["status"] == "paid" and order["product_id"] == scarf["id"]
    web.assert_no_console_errors()
