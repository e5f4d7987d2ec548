"""A flash sale in a real browser: the host launches it from the console, buyers in the room see
stock count down live, one buys and pays without leaving the room; plus the phone screenshot."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.integration.api import Api

from .conftest import PHONE, SCREENSHOTS, Web, live_show, open_room, shop_owner, unique

COUNTDOWN = re.compile(r"^\d+:\d\d$")
CARD = "4242424242424242"


def box(page: Page, testid: str) -> dict:
    b = page.get_by_test_id(testid).bounding_box()
    assert b is not None, testid
    return b


def test_host_launches_buyers_see_stock_live_and_one_buys_and_pays(web: Web, api: Api) -> None:
    lena, ann, ben = shop_owner(api, "Lena"), api.user("Ann"), api.user("Ben")
    show = live_show(api, lena, ["Leica M3 rangefinder, 1957"], room_title="Friday camera drop",
                     starting_price=12_000, duration_seconds=600)
    room_id = show["room_id"]
    product = api.product(lena, price=4_000, stock=10)
    title = "Leather camera strap"
    r = api.http.patch(f"/api/v1/products/{product['id']}", headers=lena.headers, json={"title": title})
    assert r.status_code == 200, r.text

    a = open_room(web, ann, room_id, **PHONE)
    b = open_room(web, ben, room_id, **PHONE)
    expect(a.get_by_test_id("flash")).to_be_hidden()

    # The host launches 3 units at €25 (regular €40), one per buyer, for two minutes.
    host = web.page(lena, f"/host/rooms/{room_id}")
    host.get_by_test_id("host-flash-product").select_option(str(product["id"]))
    host.get_by_test_id("host-flash-quantity").fill("3")
    host.get_by_test_id("host-flash-price").fill("25")
    host.get_by_test_id("host-flash-duration").fill("120")
    host.get_by_test_id("host-flash-limit").fill("1")
    host.get_by_test_id("host-flash-launch").click()
    expect(host.get_by_test_id("host-flash-state")).to_have_text("Running")
    expect(host.get_by_test_id("host-flash-left")).to_have_text("3")
    expect(host.get_by_test_id("host-flash-countdown")).to_have_text(COUNTDOWN)
    expect(host.get_by_test_id("host-flash-launch")).to_be_hidden()   # one sale at a time

    # Both buyers see it appear, live, with the sale price against the regular one.
    for page in (a, b):
        expect(page.get_by_test_id("flash")).to_be_visible()
        expect(page.get_by_test_id("flash-title")).to_have_text(title)
        expect(page.get_by_test_id("flash-left")).to_have_text("3 left")
        expect(page.get_by_test_id("flash-price")).to_have_text("€25.00")
        expect(page.get_by_test_id("flash-regular")).to_have_text("€40.00")
        expect(page.get_by_test_id("flash-countdown")).to_have_text(COUNTDOWN)

    # On a 390 px phone the panel fits the width and sits clear of the bid button.
    assert a.evaluate("() => document.documentElement.scrollWidth") <= 390
    panel, bid = box(a, "flash"), box(a, "bid-next")
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390, panel
    assert panel["y"] + panel["height"] <= bid["y"] or bid["y"] + bid["height"] <= panel["y"], (panel, bid)
    assert a.evaluate("""() => { const r = document.querySelector('[data-testid="bid-next"]').getBoundingClientRect();
      const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      return !top || top.closest('[data-testid="bid-next"]') !== null || r.y > innerHeight; }""")

    # Ann buys one: her count and Ben's drop to 2 live, and the host's too.
    a.get_by_test_id("flash-buy").click()
    expect(a.get_by_test_id("flash-message")).to_contain_text("You got 1")
    for page in (a, b):
        expect(page.get_by_test_id("flash-left")).to_have_text("2 left")
    expect(host.get_by_test_id("host-flash-left")).to_have_text("2")
    expect(host.get_by_test_id("host-flash-sold")).to_have_text("1")
    expect(a.get_by_test_id("flash-buy")).to_have_text("Limit reached")
    expect(a.get_by_test_id("flash-buy")).to_be_disabled()
    expect(b.get_by_test_id("flash-buy")).to_be_enabled()

    # A late joiner gets the sale from the snapshot, with the current count (anonymous: log in to buy);
    # Ann in a second tab sees she already holds her one unit.
    late = open_room(web, None, room_id)
    expect(late.get_by_test_id("flash-left")).to_have_text("2 left")
    expect(late.get_by_test_id("flash-login")).to_be_visible()
    again = open_room(web, ann, room_id)
    expect(again.get_by_test_id("flash-buy")).to_have_text("Limit reached")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    b.wait_for_timeout(400)   # the stock bar's transition
    shot = SCREENSHOTS / "flash-sale-phone.png"
    b.screenshot(path=str(shot), animations="disabled")
    assert shot.stat().st_size < 600_000

    # Ann pays right in the room.
    a.get_by_test_id("flash-pay-card").fill(CARD)
    a.get_by_test_id("flash-pay").click()
    expect(a.get_by_test_id("flash-paid")).to_have_text("Paid ✓")
    [order] = [o for o in api.orders(ann) if o["kind"] == "flash"]
    assert order["status"] == "paid"
    assert order["total"]["amount"] == 2_500

    # The host ends it early: everyone sees "Ended", and the unsold units go back to stock.
    host.get_by_test_id("host-flash-end").click()
    expect(host.get_by_test_id("host-flash-state")).to_have_text("Ended")
    for page in (a, b, late):
        expect(page.get_by_test_id("flash-state")).to_have_text("Ended")
    expect(b.get_by_test_id("flash-buy")).to_be_disabled()
    r = api.http.get(f"/api/v1/products/{product['id']}")
    assert r.json()["product"]["stock"] == 10 - 1
    web.assert_no_console_errors()


def test_a_sold_out_sale_says_so_and_refuses_clearly(web: Web, api: Api) -> None:
    lena, ann, ben = shop_owner(api, "Lena"), api.user("Ann"), api.user("Ben")
    show = live_show(api, lena, [unique("Tripod")], start=False)
    product = api.product(lena, price=2_000, stock=2)
    r = api.http.post(f"/api/v1/rooms/{show['room_id']}/flash-sales", headers=lena.headers, json={
        "product_id": product["id"], "quantity": 1, "sale_price": 1_000, "duration_seconds": 60,
        "per_buyer_limit": 1})
    assert r.status_code == 201, r.text
    a = open_room(web, ann, show["room_id"])
    b = open_room(web, ben, show["room_id"])
    expect(b.get_by_test_id("flash-left")).to_have_text("1 left")
    # Ben's page has not heard yet when Ann takes the last unit: his click gets a clear refusal.
    b.evaluate("() => { window.bidcastRoom.sock.ws.onmessage = null; }")
    a.get_by_test_id("flash-buy").click()
    expect(a.get_by_test_id("flash-message")).to_contain_text("You got 1")
    expect(a.get_by_test_id("flash-state")).to_have_text("Sold out")
    expect(a.get_by_test_id("flash-left")).to_have_text("0 left")
    b.get_by_test_id("flash-buy").click()
    expect(b.get_by_test_id("flash-message")).to_have_text("Sold out — every unit is taken.")
    # The browser logs the refused request itself; anything else in the console is a failure.
    web.errors = [e for e in web.errors if "status of 409" not in e]
    web.assert_no_console_errors()
