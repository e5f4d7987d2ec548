"""A thin client for the public API, used by the integration tests."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

ADMIN_EMAIL = "admin@tests.bidcast"
PASSWORD = "correct horse battery"


def key() -> str:
    return uuid.uuid4().hex


@dataclass
class User:
    id: int
    email: str
    headers: dict[str, str]


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def login(self, email: str, password: str = PASSWORD) -> User:
        r = self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
        return User(body["user"]["id"], email, {"Authorization": f"Bearer {body['token']}"})

    def user(self, name: str = "buyer", roles: list[str] | None = None) -> User:
        email = f"{name}-{uuid.uuid4().hex[:8]}@tests.bidcast"
        r = self.http.post("/api/v1/auth/register", json={
            "email": email, "password": PASSWORD, "display_name": name, "roles": roles or ["buyer"]})
        assert r.status_code == 201, r.text
        return self.login(email)

    def admin(self) -> User:
        return self.login(ADMIN_EMAIL)

    def seller(self) -> User:
        """A user with an approved shop."""
        u = self.user("seller")
        r = self.http.post("/api/v1/shops", headers=u.headers, json={
            "name": f"Shop {uuid.uuid4().hex[:8]}", "description": "d", "contact_email": u.email})
        assert r.status_code == 201, r.text
        r = self.http.post(f"/api/v1/admin/shops/{r.json()['shop']['id']}/review",
                           headers=self.admin().headers, json={"approve": True})
        assert r.status_code == 200, r.text
        return u

    def product(self, seller: User, price: int = 1000, stock: int = 5, currency: str = "EUR") -> dict:
        r = self.http.post("/api/v1/products", headers=seller.headers, json={
            "title": "Test lot", "category": "misc", "sku": key()[:12], "price_amount": price,
            "currency": currency, "stock": stock})
        assert r.status_code == 201, r.text
        return r.json()["product"]

    def live_lot(self, seller: User, start: bool = True, room_fields: dict | None = None,
                 **lot) -> dict:  # noqa: ANN003
        """A live room with one lot, started (unless start=False)."""
        product = self.product(seller)
        r = self.http.post("/api/v1/rooms", headers=seller.headers, json={
            "title": "Test room", "scheduled_at": "2030-01-01T10:00:00Z"} | (room_fields or {}))
        assert r.status_code == 201, r.text
        room = r.json()["room"]
        assert self.http.post(f"/api/v1/rooms/{room['id']}/go-live", headers=seller.headers).status_code == 200
        body = {"product_id": product["id"], "starting_price": 100} | lot
        r = self.http.post(f"/api/v1/rooms/{room['id']}/lots", headers=seller.headers, json=body)
        assert r.status_code == 201, r.text
        if not start:
            return r.json()["lot"]
        r = self.http.post(f"/api/v1/rooms/{room['id']}/lots/start-next", headers=seller.headers, json={})
        assert r.status_code == 200, r.text
        return r.json()["lot"]

    def bid(self, user: User, auction_id: int, amount: int | None = None, max_amount: int | None = None,
            idem: str | None = None) -> httpx.Response:
        body: dict = {"idempotency_key": idem or key()}
        if amount is not None:
            body["amount"] = amount
        if max_amount is not None:
            body["max_amount"] = max_amount
        return self.http.post(f"/api/v1/auctions/{auction_id}/bids", headers=user.headers, json=body)

    def auction(self, auction_id: int, user: User | None = None) -> dict:
        r = self.http.get(f"/api/v1/auctions/{auction_id}", headers=user.headers if user else {})
        assert r.status_code == 200, r.text
        return r.json()["auction"]

    def bids(self, auction_id: int) -> list[dict]:
        out: list[dict] = []
        while True:
            after = out[-1]["seq"] if out else 0
            r = self.http.get(f"/api/v1/auctions/{auction_id}/bids", params={"after_seq": after, "limit": 1000})
            page = r.json()["bids"]
            if not page:
                return out
            out.extend(page)

    def orders(self, user: User, as_seller: bool = False) -> list[dict]:
        r = self.http.get("/api/v1/orders", headers=user.headers, params={"as_seller": as_seller})
        assert r.status_code == 200, r.text
        return r.json()["orders"]

    def wait_closed(self, auction_id: int, timeout: float) -> dict:
        """Poll the auction until it has closed; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.auction(auction_id)
            if view["status"] == "closed" or time.monotonic() > deadline:
                assert view["status"] == "closed", f"auction {auction_id} still open: {view}"
                return view
            time.sleep(0.2)


def error_code(r: httpx.Response) -> str | None:
    """The machine-readable code of an error response (None when the body is not one)."""
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
