"""Orders in a real browser: the seller ships from the seller center, the buyer follows the order
and cancels another one with a reason, the seller sees the balance."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.integration.api import Api, key

from .conftest import Web, live_show, shop_owner, unique


def test_seller_ships_and_buyer_cancels_from_the_pages(web: Web, api: Api) -> None:
    seller, buyer = shop_owner(api, "Shipper"), api.user("Receiver")
    shows = [live_show(api, seller, [unique(word)], duration_seconds=5, soft_close_seconds=0)
             for word in ("Teapot", "Kettle")]
    for show in shows:
        assert api.bid(buyer, show["auction_id"], amount=2500).status_code == 201
    for show in shows:
        api.wait_closed(show["auction_id"], timeout=20)
    to_ship, to_cancel = sorted(api.orders(buyer), key=lambda o: o["id"])
    r = api.http.post(f"/api/v1/orders/{to_ship['id']}/pay", headers=buyer.headers,
                      json={"payment_method": "4242424242424242", "idempotency_key": key()})
    assert r.status_code == 200, r.text

    s = web.page(seller, "/seller/orders")
    s.get_by_test_id("status-filter").select_option("paid")
    row = s.locator(f"[data-testid=order-row][data-order-id='{to_ship['id']}']")
    expect(s.get_by_test_id("order-row")).to_have_count(1)
    row.get_by_test_id("ship-carrier").select_option("dhl")
    row.get_by_test_id("ship-tracking").fill("00340 4343 2112")
    row.get_by_test_id("ship-form-submit").click()
    expect(s.get_by_test_id("order-list").get_by_test_id("empty")).to_be_visible()  # none left to ship
    s.get_by_test_id("status-filter").select_option("shipped")
    expect(s.get_by_test_id("order-row").get_by_test_id("order-status")).to_have_attribute("data-status", "shipped")

    b = web.page(buyer, "/me/orders")
    shipped = b.locator(f"#order-{to_ship['id']}")
    expect(shipped.get_by_test_id("order-status")).to_have_text("Shipped")
    expect(shipped.get_by_test_id("order-tracking")).to_contain_text("DHL · 0034043432112")
    expect(shipped.get_by_test_id("cancel-form")).to_have_count(0)
    unpaid = b.locator(f"#order-{to_cancel['id']}")
    unpaid.locator("details.cancel summary").click()
    unpaid.get_by_test_id("cancel-reason").fill("Bought one elsewhere")
    unpaid.get_by_test_id("cancel-form-submit").click()
    cancelled = b.locator(f"#order-{to_cancel['id']}")
    expect(cancelled.get_by_test_id("order-status")).to_have_text("Cancelled")
    expect(cancelled.get_by_test_id("order-event").last).to_contain_text("Bought one elsewhere")

    d = web.page(seller, f"/orders/{to_cancel['id']}")
    expect(d.get_by_test_id("order-detail").get_by_test_id("order-status")).to_have_attribute("data-status", "cancelled")
    expect(d.get_by_test_id("order-event").last).to_contain_text("buyer")

    bal = web.page(seller, "/seller/balance")
    expect(bal.get_by_test_id("balance-pending")).to_have_text("€24.50")  # €25.00 less 2 %
    expect(bal.get_by_test_id("balance-available")).to_have_text("€0.00")
    bal.get_by_test_id("payout-amount").fill("1")
    bal.get_by_test_id("payout-submit").click()
    expect(bal.get_by_test_id("payout-error")).to_contain_text("available")
    # The only console error allowed is the browser's own note about the refused payout's 409.
    assert all("409" in e for e in web.errors), web.errors
