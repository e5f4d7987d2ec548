"""Returns in a real browser: the buyer asks with a photo, the seller answers at /seller/returns
(a partial refund), the buyer sees the money back; a rejection disputed and decided at
/admin/returns. The order is won, paid, shipped and delivered through the API (signed carrier
webhook), as tests/integration/test_returns.py does."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.integration.api import ADMIN_EMAIL, PASSWORD, Api
from tests.integration.conftest import UNTHROTTLED
from tests.integration.servers import Server
from tests.integration.test_returns import CARRIER_SECRET, delivered_order

from .conftest import Web, euros, live_show, open_room


# This module's own server: the carrier's webhook secret must be known to deliver an order.
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("e2e-returns")
    srv = Server(f"sqlite:///{workdir / 'bidcast.db'}", workdir,
                 extra_env=UNTHROTTLED | {"BIDCAST_CARRIER_WEBHOOK_SECRET": CARRIER_SECRET})
    srv.migrate()
    srv.create_admin(ADMIN_EMAIL, PASSWORD)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server: Server):
    client = Api(server.url)
    yield client
    client.close()


def ask_for_return(page: Page, photo_url: str) -> None:
    form = page.get_by_test_id("return-form")
    expect(form.get_by_test_id("return-refund-amount")).to_have_text(euros(10_000))
    form.get_by_test_id("return-reason").select_option("damaged")
    form.get_by_test_id("return-details").fill("The screen is cracked <b>badly</b>")
    form.get_by_test_id("return-photo-0").fill(photo_url)
    form.get_by_test_id("return-submit").click()
    expect(page.get_by_test_id("return-form")).to_have_count(0)
    expect(page.get_by_test_id("return-status")).to_have_attribute("data-status", "requested")
    # Text stays text: the buyer's words are shown as typed, never as markup.
    expect(page.get_by_test_id("return-reason-text")).to_have_text("Arrived damaged: The screen is cracked <b>badly</b>")


def test_buyer_asks_seller_refunds_part_buyer_sees_it(web: Web, api: Api, server: Server) -> None:
    seller, buyer, order = delivered_order(api)
    oid = order["id"]
    photo = f"{server.url}/static/favicon.svg"  # a picture that loads under the pages' CSP
    b = web.page(buyer, f"/orders/{oid}/return")
    bad = b.get_by_test_id("return-form")
    bad.get_by_test_id("return-reason").select_option("damaged")
    bad.get_by_test_id("return-photo-0").fill("javascript:alert(1)")
    bad.get_by_test_id("return-submit").click()
    expect(b.get_by_test_id("return-error")).to_be_visible()
    bad.get_by_test_id("return-photo-0").fill("")
    ask_for_return(b, photo)
    expect(b.get_by_test_id("return-photo")).to_have_attribute("href", photo)

    s = web.page(seller, "/seller/returns")
    row = s.locator(f"[data-testid=return-row][data-order-id='{oid}']")
    expect(row.get_by_test_id("return-status")).to_have_attribute("data-status", "requested")
    expect(row.get_by_test_id("return-reason-text")).to_contain_text("cracked")
    expect(row.get_by_test_id("return-photo")).to_have_attribute("href", photo)
    expect(row.get_by_test_id("return-time-left")).to_have_text(re.compile(r"^4[78] h \d+ min left to answer$"))
    row.get_by_test_id("approve-amount").fill("150")  # more than was paid: refused, nothing moves
    row.get_by_test_id("approve-submit").click()
    expect(row.get_by_test_id("approve-form-error")).to_contain_text("At most")
    row.get_by_test_id("approve-amount").fill("40")
    row.get_by_test_id("approve-submit").click()
    expect(row.get_by_test_id("return-status")).to_have_attribute("data-status", "refunded")
    expect(row.get_by_test_id("return-refund")).to_have_text(f"Refunded {euros(4_000)}")

    # The buyer's open page follows by itself (it polls while the return is open).
    expect(b.get_by_test_id("return-status")).to_have_text("Refunded")
    expect(b.get_by_test_id("return-refund")).to_have_text(f"Refunded {euros(4_000)}")
    expect(b.locator("[data-testid=return-event][data-kind=return_refunded]")).to_have_count(1)
    refunds = api.http.get(f"/api/v1/orders/{oid}/refunds", headers=buyer.headers).json()["refunds"]
    assert [r["amount"] for r in refunds] == [4_000]
    web.assert_no_console_errors()


def test_rejected_return_is_disputed_and_an_admin_refunds_it(web: Web, api: Api, server: Server) -> None:
    seller, buyer, order = delivered_order(api)
    oid = order["id"]
    b = web.page(buyer, f"/orders/{oid}/return")
    ask_for_return(b, f"{server.url}/static/favicon.svg")

    s = web.page(seller, "/seller/returns")
    row = s.locator(f"[data-testid=return-row][data-order-id='{oid}']")
    row.get_by_test_id("reject-open").click()
    row.get_by_test_id("reject-note").fill("It was fine when it left")
    row.get_by_test_id("reject-submit").click()
    expect(row.get_by_test_id("return-status")).to_have_attribute("data-status", "rejected")

    s.goto(f"/orders/{oid}/return")  # the seller's view of the same page: read-only
    expect(s.get_by_test_id("return-status")).to_have_attribute("data-status", "rejected")
    expect(s.get_by_test_id("return-form")).to_have_count(0)
    expect(s.get_by_test_id("dispute-open")).to_have_count(0)

    b.reload()
    expect(b.get_by_test_id("return-seller-note")).to_have_text("It was fine when it left")
    b.get_by_test_id("dispute-open").click()
    b.get_by_test_id("dispute-reason").fill("The courier photo shows the crack")
    b.get_by_test_id("dispute-submit").click()
    expect(b.get_by_test_id("return-status")).to_have_attribute("data-status", "disputed")

    a = web.page(api.admin(), "/admin/returns")
    dispute = a.locator(f"[data-testid=dispute-row][data-order-id='{oid}']")
    expect(dispute.get_by_test_id("return-reason-text")).to_contain_text("cracked")
    expect(dispute.get_by_test_id("return-seller-note")).to_have_text("It was fine when it left")
    expect(dispute.get_by_test_id("return-dispute-text")).to_have_text("The courier photo shows the crack")
    dispute.get_by_test_id("resolve-note").fill("The photos show damage")
    dispute.get_by_test_id("resolve-refund").click()  # empty amount: all that is left
    expect(dispute.get_by_test_id("return-status")).to_have_attribute("data-status", "refunded")

    expect(b.get_by_test_id("return-refund")).to_have_text(f"Refunded {euros(10_000)}")
    expect(b.get_by_test_id("return-resolution")).to_have_text("The photos show damage")
    assert b.request.get(f"{server.url}/admin/returns").status == 403  # the buyer's session: admins only
    web.assert_no_console_errors()


def test_host_marks_a_lot_final_sale_and_bidders_see_it_before_bidding(web: Web, api: Api) -> None:
    seller, viewer = api.seller(), api.user("viewer")
    r = api.http.post("/api/v1/rooms", headers=seller.headers,
                      json={"title": "Final sale room", "scheduled_at": "2030-01-01T10:00:00Z"})
    room_id = r.json()["room"]["id"]
    assert api.http.post(f"/api/v1/rooms/{room_id}/go-live", headers=seller.headers).status_code == 200
    product = api.product(seller, price=5_000)

    host = web.page(seller, f"/host/rooms/{room_id}")
    host.get_by_test_id("host-product").select_option(str(product["id"]))
    host.get_by_test_id("host-add-start").fill("20")
    host.get_by_test_id("host-add-final-sale").check()
    host.get_by_test_id("host-add-lot").click()
    expect(host.get_by_test_id("host-lineup")).to_contain_text("final sale")
    expect(host.get_by_test_id("host-add-final-sale")).not_to_be_checked()
    (lot,) = api.http.get(f"/api/v1/auctions?room_id={room_id}").json()["auctions"]
    assert lot["final_sale"] is True

    v = web.page(viewer, f"/rooms/{room_id}")
    expect(v.get_by_test_id("lot-final-sale")).to_be_visible()  # "Up next", before anyone bids
    expect(v.get_by_test_id("lot-final-sale")).to_have_text("Final sale — no returns")
    r = api.http.post(f"/api/v1/rooms/{room_id}/lots/start-next", headers=seller.headers, json={})
    assert r.status_code == 200, r.text
    expect(v.get_by_test_id("room-state")).to_have_text("No bids yet")
    expect(v.get_by_test_id("lot-final-sale")).to_be_visible()

    plain = live_show(api, seller, ["A returnable lot"], duration_seconds=60)
    p = open_room(web, viewer, plain["room_id"])
    expect(p.get_by_test_id("lot-title")).to_have_text("A returnable lot")
    expect(p.get_by_test_id("lot-final-sale")).to_be_hidden()
    web.assert_no_console_errors()
