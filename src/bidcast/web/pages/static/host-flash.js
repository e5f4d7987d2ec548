// The host console's flash sale (docs/flash-sales.md): choose one of the shop's products, the
// quantity, a sale price (major units, like the console's other prices), the duration and the limit
// per buyer; launch; then sold / left / time left live from the room's flash.* events, and End now.
import { ApiError, api, el, money, showError, uuid } from "/static/app.js";
import { apiWithKey } from "/static/cart.js";
import { Countdown } from "/static/countdown.js";
import { foldFlash } from "/static/room-flash.js";
import { setText, toMajorText, toMinor } from "/static/room-format.js";

// snapshot(flash) and event(type, data) are called by host.js; clock is the console's ServerClock.
export function mountHostFlash(clock, roomId) {
  const box = document.getElementById("host-flash");
  const form = document.getElementById("host-flash-form");
  if (!box || !form) return { snapshot() {}, event() {} };
  const f = form.elements;
  const error = form.querySelector(".error");
  const launch = form.querySelector("[type=submit]");
  const products = new Map();
  let sale = null;
  let launchKey = null;   // kept only while a launch got no answer: the retry is the same launch

  const t = (testid, tag, attrs = {}, ...kids) => el(tag, { "data-testid": testid, ...attrs }, ...kids);
  const N = {
    state: t("host-flash-state", "span", { class: "badge room-flash-badge" }),
    title: el("strong", { class: "room-flash-title" }),
    price: el("span", { class: "muted small" }),
    sold: t("host-flash-sold", "strong", {}),
    left: t("host-flash-left", "strong", {}),
    countdown: t("host-flash-countdown", "strong", { class: "room-flash-clock" }),
    fill: el("span", { class: "room-flash-fill" }),
    end: t("host-flash-end", "button", { type: "button", class: "small secondary host-danger" }, "End now"),
    note: el("span", { class: "muted small" }),
    error: el("p", { class: "error small", hidden: true }),
  };
  const live = t("host-flash-live", "div", { class: "host-flash-live", hidden: true },
    el("div", { class: "room-flash-head" }, N.state, N.title),
    N.price,
    el("span", { class: "room-flash-bar", "aria-hidden": "true" }, N.fill),
    el("div", { class: "host-flash-numbers" },
      el("span", {}, N.sold, " sold"), el("span", {}, N.left, " left"), el("span", {}, N.countdown, " to go"), N.end),
    N.note, N.error);
  form.before(live);
  const countdown = new Countdown(N.countdown, clock, { onZero: render });

  const over = () => sale.state === "ended" || clock.now() >= sale.ends_at;

  function render() {
    if (!sale) { live.hidden = true; form.hidden = false; return; }
    const ended = over();
    const soldOut = sale.outcome ? sale.outcome === "sold_out" : sale.sold >= sale.quantity;
    live.hidden = false;
    live.dataset.state = ended ? "ended" : "running";
    form.hidden = !ended;
    setText(N.state, soldOut ? "Sold out" : ended ? "Ended" : "Running");
    setText(N.title, sale.title);
    setText(N.price, `${money(sale.sale_price, sale.currency)} instead of ${money(sale.regular_price, sale.currency)}`
      + ` · limit ${sale.per_buyer_limit} per buyer`);
    setText(N.sold, String(sale.sold));
    setText(N.left, String(sale.left));
    N.fill.style.width = `${sale.quantity ? (100 * sale.left) / sale.quantity : 0}%`;
    countdown.set(ended ? null : sale.ends_at, ended ? "0:00" : null);
    N.end.hidden = ended;
    setText(N.note, ended && sale.returned ? `${sale.returned} unsold back in stock.` : "");
  }

  async function loadProducts() {
    try {
      const mine = await api("GET", "/api/v1/shops/mine");
      if (!mine.shop || mine.shop.status !== "approved") {
        f.product_id.replaceChildren(el("option", { value: "" }, "A flash sale needs an approved shop"));
        f.product_id.disabled = true;
        return;
      }
      const data = await api("GET", `/api/v1/products?shop_id=${mine.shop.id}&limit=200`);
      const keep = f.product_id.value;
      products.clear();
      for (const p of data.products || []) products.set(p.id, p);
      f.product_id.replaceChildren(el("option", { value: "" }, products.size ? "Choose a product…" : "No active products"),
        ...[...products.values()].map((p) => el("option", { value: String(p.id), disabled: p.stock < 1 },
          `${p.title} · ${money(p.price.amount, p.price.currency)} · ${p.stock < 1 ? "out of stock" : `${p.stock} in stock`}`)));
      if (keep && products.has(Number(keep))) f.product_id.value = keep;
    } catch (err) {
      showError(error, err);
    }
  }

  async function refresh() {
    const id = sale.id;
    try {
      const { sale: fresh } = await api("GET", `/api/v1/flash-sales/${id}`);
      if (sale?.id === id && fresh.version > sale.version) { sale = fresh; render(); }
    } catch { /* the events keep it current */ }
  }

  f.product_id.addEventListener("change", () => {
    const p = products.get(Number(f.product_id.value));
    if (!p) return;
    f.sale_price.placeholder = `under ${toMajorText(p.price.amount, p.price.currency)}`;
    if (!f.sale_price.value) f.sale_price.value = toMajorText(Math.max(1, Math.round(p.price.amount * 0.8)), p.price.currency);
    f.quantity.max = String(p.stock);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const p = products.get(Number(f.product_id.value));
    const int = (v) => Number.parseInt(v, 10);
    const body = { product_id: Number(f.product_id.value), quantity: int(f.quantity.value),
                   sale_price: toMinor(f.sale_price.value, p?.price.currency || "EUR"),
                   duration_seconds: int(f.duration_seconds.value), per_buyer_limit: int(f.per_buyer_limit.value) };
    if (!p) { showError(error, new ApiError(422, "validation_failed", "Choose a product.")); return; }
    if (!body.sale_price) { showError(error, new ApiError(422, "validation_failed", "The sale price is an amount, like 19 or 19.90.")); return; }
    const key = launchKey ?? uuid();
    launch.disabled = true;
    try {
      const data = await apiWithKey("POST", `/api/v1/rooms/${roomId}/flash-sales`, body, key);
      launchKey = null;
      const next = foldFlash(sale, "flash.started", { sale: data.sale }, clock.now());
      if (next) { sale = next; render(); }
      loadProducts();
    } catch (err) {
      launchKey = err instanceof ApiError ? null : key;
      showError(error, err);
    } finally {
      launch.disabled = false;
    }
  });

  N.end.addEventListener("click", async () => {
    if (!sale) return;
    N.end.disabled = true;
    N.error.hidden = true;
    try {
      const data = await api("POST", `/api/v1/flash-sales/${sale.id}/end`);
      if (data.sale.id === sale.id && data.sale.version >= sale.version) { sale = data.sale; render(); }
      loadProducts();
    } catch (err) {
      showError(N.error, err);
    } finally {
      N.end.disabled = false;
    }
  });

  loadProducts();
  return {
    snapshot(flash) {
      if (!flash) return;
      const next = foldFlash(sale, "flash.started", { sale: flash }, clock.now());
      if (next) sale = { ...next };
      render();
      refresh();
    },
    event(type, d) {
      const next = foldFlash(sale, type, d, clock.now());
      if (!next) return;
      sale = next === sale ? sale : { ...next };
      render();
      if (type === "flash.ended") loadProducts();
    },
  };
}
