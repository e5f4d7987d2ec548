"""The bank's extra confirmation step in a real browser: a buyer pays with the sandbox card that
asks for it, passes (or cancels) the step in the bank's panel, and the order ends paid (or still
awaiting payment, payable again); a checkout over two shops passes one step per order. And the
address book: add, set the default, delete."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.integration.api import Api, User, key

from .conftest import Web, euros, live_show, open_room, shop_owner, unique

EXTRA_STEP = "4000 0025 0000 3155"
ADDRESS = {"name": "Grace Hopper", "line1": "7 Harbour Street", "city": "Hamburg",
           "postal_code": "20457", "country": "DE", "phone": "+49 40 123456"}


def placed_checkout(api: Api, buyer: User, prices: list[int]) -> dict:
    """A checkout of one product per new shop (one order each), shipping to a saved address."""
    r = api.http.post("/api/v1/me/addresses", headers=buyer.headers, json=ADDRESS)
    assert r.status_code in (200, 201), r.text
    lines = [{"product_id": api.product(shop_owner(api, "Bank Step Shop"), price=p)["id"], "quantity": 1}
             for p in prices]
    r = api.http.post("/api/v1/checkout", headers=buyer.headers | {"Idempotency-Key": key()}, json={"lines": lines})
    assert r.status_code == 201, r.text
    return r.json()["checkout"]


def order_status(api: Api, buyer: User, order_id: int) -> str:
    return api.http.get(f"/api/v1/orders/{order_id}", headers=buyer.headers).json()["order"]["status"]


def test_buyer_confirms_the_bank_step_and_the_order_is_paid(web: Web, api: Api) -> None:
    buyer = api.user("Careful")
    (order,) = placed_checkout(api, buyer, [1800])["orders"]
    page = web.page(buyer, "/me/orders")
    row = page.locator(f"#order-{order['id']}")
    expect(row.get_by_test_id("order-status")).to_have_attribute("data-status", "awaiting_payment")
    row.get_by_test_id("pay-card").fill(EXTRA_STEP)
    row.get_by_test_id("pay-submit").click()

    bank = page.get_by_test_id("bank-step")
    expect(bank).to_be_visible()
    expect(bank).to_contain_text("Bidcast sandbox bank")
    expect(bank).to_contain_text("Confirm with your bank")
    expect(bank.get_by_test_id("bank-amount")).to_have_text(euros(order["total"]["amount"]))
    assert order_status(api, buyer, order["id"]) == "awaiting_payment"   # nothing until the buyer confirms
    bank.get_by_test_id("bank-confirm").click()

    expect(page.get_by_test_id("bank-step")).to_have_count(0)
    paid = page.locator(f"#order-{order['id']}")
    expect(paid.get_by_test_id("order-status")).to_have_attribute("data-status", "paid")
    expect(paid.get_by_test_id("pay-form")).to_have_count(0)
    assert order_status(api, buyer, order["id"]) == "paid"
    assert all("402" in e for e in web.errors), web.errors   # the browser's note about the 402 answer


def test_cancelling_the_bank_step_leaves_the_order_payable(web: Web, api: Api) -> None:
    buyer = api.user("Hesitant")
    (order,) = placed_checkout(api, buyer, [2600])["orders"]
    page = web.page(buyer, f"/orders/{order['id']}")
    page.get_by_test_id("pay-card").fill(EXTRA_STEP)
    page.get_by_test_id("pay-submit").click()
    bank = page.get_by_test_id("bank-step")
    expect(bank.get_by_test_id("bank-amount")).to_have_text(euros(order["total"]["amount"]))
    bank.get_by_test_id("bank-cancel").click()

    expect(page.get_by_test_id("bank-step")).to_have_count(0)
    expect(page.get_by_test_id("pay-error")).to_contain_text("still awaiting payment")
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "awaiting_payment")
    assert order_status(api, buyer, order["id"]) == "awaiting_payment"

    # The same form pays with another card: a new attempt, not the cancelled one.
    page.get_by_test_id("pay-card").fill("4242 4242 4242 4242")
    expect(page.get_by_test_id("pay-submit")).to_be_enabled()
    page.get_by_test_id("pay-submit").click()
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "paid")
    assert order_status(api, buyer, order["id"]) == "paid"
    # The only console error allowed is the browser's own note about the 402 answer.
    assert all("402" in e for e in web.errors), web.errors


def test_checkout_over_two_shops_passes_one_bank_step_per_order(web: Web, api: Api) -> None:
    buyer = api.user("Twoshops")
    checkout = placed_checkout(api, buyer, [1500, 3200])
    first, second = sorted(checkout["orders"], key=lambda o: o["id"])
    page = web.page(buyer, f"/checkout?id={checkout['id']}")
    expect(page.get_by_test_id("checkout-order")).to_have_count(2)
    page.get_by_test_id("checkout-card").fill(EXTRA_STEP)
    page.get_by_test_id("checkout-pay").click()

    for order in (first, second):   # the checkout stops at each order's step, then pays on
        bank = page.get_by_test_id("bank-step")
        expect(bank.get_by_test_id("bank-order")).to_have_text(f"#{order['id']}")
        expect(bank.get_by_test_id("bank-amount")).to_have_text(euros(order["total"]["amount"]))
        bank.get_by_test_id("bank-confirm").click()

    expect(page.get_by_test_id("checkout-done")).to_be_visible()
    assert {order_status(api, buyer, o["id"]) for o in (first, second)} == {"paid"}
    assert all("402" in e for e in web.errors), web.errors


def test_in_the_room_buy_now_and_flash_sale_pass_the_bank_step(web: Web, api: Api) -> None:
    seller, buyer = shop_owner(api, "Roomhost"), api.user("Viewer")
    show = live_show(api, seller, [unique("Vase")], duration_seconds=300)
    r = api.http.post("/api/v1/me/addresses", headers=buyer.headers, json=ADDRESS)
    assert r.status_code == 201, r.text
    scarf = api.product(seller, price=1800, stock=3)
    page = open_room(web, buyer, show["room_id"])

    # Buy now: the bank's panel opens over the room's buy-now sheet.
    page.get_by_test_id("room-shop-open").click()
    page.locator(f"[data-testid=room-shop-item][data-product-id='{scarf['id']}']").get_by_test_id("room-buy-now").click()
    sheet = page.get_by_test_id("buy-sheet")
    sheet.get_by_test_id("checkout-continue").click()
    sheet.get_by_test_id("checkout-card").fill(EXTRA_STEP)
    sheet.get_by_test_id("checkout-pay").click()
    bank = page.get_by_test_id("bank-step")
    expect(bank.get_by_test_id("bank-amount")).to_have_text(euros(1800 + 490))
    bank.get_by_test_id("bank-confirm").click()
    expect(sheet.get_by_test_id("checkout-done")).to_be_visible()
    sheet.get_by_test_id("sheet-close").click()

    # Flash sale: Pay now in the room, confirmed at the bank.
    strap = api.product(seller, price=4000, stock=5)
    r = api.http.post(f"/api/v1/rooms/{show['room_id']}/flash-sales", headers=seller.headers, json={
        "product_id": strap["id"], "quantity": 2, "sale_price": 2500, "duration_seconds": 120})
    assert r.status_code == 201, r.text
    page.get_by_test_id("flash-buy").click()
    expect(page.get_by_test_id("flash-message")).to_contain_text("You got 1")
    page.get_by_test_id("flash-pay-card").fill(EXTRA_STEP)
    page.get_by_test_id("flash-pay").click()
    expect(page.get_by_test_id("bank-step").get_by_test_id("bank-amount")).to_have_text(euros(2500))
    page.get_by_test_id("bank-step").get_by_test_id("bank-confirm").click()
    expect(page.get_by_test_id("flash-paid")).to_have_text("Paid ✓")
    assert {o["kind"]: o["status"] for o in api.orders(buyer)} == {"shop": "paid", "flash": "paid"}
    assert all("402" in e for e in web.errors), web.errors


def add_address(page: Page, values: dict[str, str]) -> None:
    form = page.get_by_test_id("address-add")
    for name, value in values.items():
        form.get_by_test_id(f"address-{name}").fill(value)
    form.get_by_test_id("address-add-submit").click()


def test_address_book_add_set_default_and_delete(web: Web, api: Api) -> None:
    buyer = api.user("Mover")
    page = web.page(buyer, "/me")
    page.get_by_test_id("me-addresses").click()
    page.wait_for_url("**/me/addresses")
    book = page.get_by_test_id("address-book")
    expect(book.get_by_test_id("empty")).to_be_visible()

    add_address(page, ADDRESS)
    expect(book.get_by_test_id("address-row")).to_have_count(1)
    add_address(page, ADDRESS | {"name": "Ada Lovelace", "line1": "12 St James's Square", "city": "London",
                                 "postal_code": "SW1Y 4JH", "country": "gb", "phone": "+44 20 7946 0000"})
    rows = book.get_by_test_id("address-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-default", "1")   # the first saved is the default
    expect(rows.first.get_by_test_id("address-name")).to_have_text("Grace Hopper")

    ada = rows.filter(has_text="Ada Lovelace")
    expect(ada.get_by_test_id("address-text")).to_contain_text("SW1Y 4JH London, GB")
    ada.get_by_test_id("address-default").click()
    expect(rows.first.get_by_test_id("address-name")).to_have_text("Ada Lovelace")   # the default first
    expect(rows.first).to_have_attribute("data-default", "1")
    expect(rows.filter(has_text="Grace Hopper")).to_have_attribute("data-default", "0")

    page.once("dialog", lambda d: d.accept())
    rows.filter(has_text="Grace Hopper").get_by_test_id("address-delete").click()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("address-name")).to_have_text("Ada Lovelace")
    saved = api.http.get("/api/v1/me/addresses", headers=buyer.headers).json()["addresses"]
    assert [(a["name"], a["is_default"]) for a in saved] == [("Ada Lovelace", True)]

    # The checkout's address step links here and offers the default first.
    product = api.product(shop_owner(api, "Address Shop"), price=900)
    page.goto(f"/checkout?product_id={product['id']}")
    expect(page.get_by_test_id("manage-addresses")).to_have_attribute("href", "/me/addresses")
    expect(page.get_by_test_id("address-option")).to_have_count(1)
    expect(page.get_by_test_id("address-option").locator("input")).to_be_checked()
    web.assert_no_console_errors()
