"""Browser tests of the live pages: a real `bidcast serve` over SQLite, driven by headless chromium.

The server and the API client are the integration tests' own (tests/integration/servers.py,
api.py); the browser is the system's chromium (never a downloaded one). Every page a test opens
through `web` is watched for console errors and uncaught exceptions; tests end with
`web.assert_no_console_errors()`.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.integration.api import ADMIN_EMAIL, PASSWORD, Api, User
from tests.integration.servers import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000          # a loaded 2-core machine: be generous, rely on auto-waiting
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}

expect.set_options(timeout=TIMEOUT_MS)


# ---- the server and the API ------------------------------------------------------------------
@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("e2e-server")
    srv = Server(f"sqlite:///{workdir / 'bidcast.db'}", workdir)
    srv.migrate()
    srv.create_admin(ADMIN_EMAIL, PASSWORD)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api(server: Server):
    client = Api(server.url)
    yield client
    client.close()


def shop_owner(api: Api, display_name: str) -> User:
    """Like Api.seller() (a user with an approved shop), under a display name of our choosing."""
    email = f"{uuid.uuid4().hex[:10]}@tests.bidcast"
    r = api.http.post("/api/v1/auth/register", json={
        "email": email, "password": PASSWORD, "display_name": display_name, "roles": ["buyer"]})
    assert r.status_code == 201, r.text
    user = api.login(email)
    r = api.http.post("/api/v1/shops", headers=user.headers, json={
        "name": f"{display_name}'s shop {uuid.uuid4().hex[:4]}", "description": "d", "contact_email": email})
    assert r.status_code == 201, r.text
    r = api.http.post(f"/api/v1/admin/shops/{r.json()['shop']['id']}/review",
                      headers=api.admin().headers, json={"approve": True})
    assert r.status_code == 200, r.text
    return user


def live_show(api: Api, seller: User, titles: list[str], *, room_title: str = "Test room",
              start: bool = True, starting_price: int = 2500, **lot) -> dict:  # noqa: ANN003
    """A live room whose lineup holds one lot per title (products of those titles); the first is
    started unless start=False. Returns {room_id, auction_id, lots}."""
    r = api.http.post("/api/v1/rooms", headers=seller.headers, json={
        "title": room_title, "scheduled_at": "2030-01-01T10:00:00Z"})
    assert r.status_code == 201, r.text
    room_id = r.json()["room"]["id"]
    r = api.http.post(f"/api/v1/rooms/{room_id}/go-live", headers=seller.headers)
    assert r.status_code == 200, r.text
    lots = []
    for title in titles:
        product = api.product(seller, price=starting_price)
        r = api.http.patch(f"/api/v1/products/{product['id']}", headers=seller.headers, json={"title": title})
        assert r.status_code == 200, r.text
        r = api.http.post(f"/api/v1/rooms/{room_id}/lots", headers=seller.headers,
                          json={"product_id": product["id"], "starting_price": starting_price} | lot)
        assert r.status_code == 201, r.text
        lots.append(r.json()["lot"])
    if start:
        r = api.http.post(f"/api/v1/rooms/{room_id}/lots/start-next", headers=seller.headers, json={})
        assert r.status_code == 200, r.text
        lots[0] = r.json()["lot"]
    return {"room_id": room_id, "auction_id": lots[0]["id"], "lots": lots}


def unique(word: str) -> str:
    return f"{word} {uuid.uuid4().hex[:6]}"


# ---- the browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is
    # open, which would stop later tests from using asyncio.run().
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Web:
    """Browser contexts for one test (one per person), each page watched for errors."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def context(self, **kw) -> BrowserContext:  # noqa: ANN003
        kw = {"locale": "en-US", "timezone_id": "Europe/Berlin"} | DESKTOP | kw
        ctx = self.browser.new_context(base_url=self.base_url, **kw)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.on("page", self._watch)
        self.contexts.append(ctx)
        return ctx

    def _watch(self, page: Page) -> None:
        page.on("console", lambda m: self.errors.append(f"console.{m.type} on {page.url}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught on {page.url}: {e}"))

    def page(self, user: User | None = None, path: str = "/", **kw) -> Page:  # noqa: ANN003
        """A new person (own context, own cookies) on `path`, logged in through /login when given a user."""
        page = self.context(**kw).new_page()
        if user is not None:
            login(page, user, path)
        else:
            page.goto(path)
        return page

    def assert_no_console_errors(self) -> None:
        assert self.errors == [], "errors in the browser console:\n" + "\n".join(self.errors)

    def close(self) -> None:
        for ctx in self.contexts:
            try:
                ctx.close()
            except Exception:  # noqa: BLE001,S110 - the browser may already be gone
                pass


@pytest.fixture
def web(browser: Browser, server: Server):
    w = Web(browser, server.url)
    yield w
    w.close()


def login(page: Page, user: User, next_path: str = "/") -> None:
    """Log in through the real /login form, landing on next_path."""
    page.goto(f"/login?next={quote(next_path)}")
    form = page.get_by_test_id("login-form")
    form.locator("input[name=email]").fill(user.email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    want = urlparse(next_path).path
    page.wait_for_url(lambda url: urlparse(url).path == want)
    expect(page.get_by_test_id("nav-me")).to_be_visible()


# ---- the live room ---------------------------------------------------------------------------
def wait_connected(page: Page) -> None:
    """The room's socket is open and the server has welcomed it (a snapshot is drawn)."""
    page.wait_for_function("() => window.bidcastRoom && window.bidcastRoom.state.connected")
    expect(page.get_by_test_id("room-state")).not_to_have_text("Connecting…")


def open_room(web: Web, user: User | None, room_id: int, **kw) -> Page:  # noqa: ANN003
    page = web.page(user, f"/rooms/{room_id}", **kw)
    wait_connected(page)
    return page


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d\d)$")


def seconds(text: str | None) -> int | None:
    """'1:05' -> 65, '1:00:05' -> 3605; None for anything that is not a running clock."""
    m = _CLOCK.match((text or "").strip())
    if not m:
        return None
    h, mm, ss = m.groups()
    return int(h or 0) * 3600 + int(mm) * 60 + int(ss)


_COUNTDOWN_JS = """([testid, op, value]) => {
  const t = (document.querySelector(`[data-testid="${testid}"]`)?.textContent || "").trim();
  const m = t.match(/^(?:(\\d+):)?(\\d+):(\\d\\d)$/);
  if (!m) return false;
  const s = (+(m[1] || 0)) * 3600 + (+m[2]) * 60 + (+m[3]);
  return op === "<=" ? s <= value : s >= value;
}"""


def wait_countdown(page: Page, op: str, value: int, *, testid: str = "room-countdown",
                   timeout: float = TIMEOUT_MS) -> int:
    """Wait until the page's countdown reads `op value` seconds ('<=' or '>='); returns the reading."""
    page.wait_for_function(_COUNTDOWN_JS, arg=[testid, op, value], timeout=timeout, polling=100)
    return seconds(page.get_by_test_id(testid).text_content())


def euros(minor: int) -> str:
    """How the pages (en-US) write an amount in EUR minor units: 2550 -> '€25.50'."""
    return f"€{minor // 100:,}.{minor % 100:02d}"
