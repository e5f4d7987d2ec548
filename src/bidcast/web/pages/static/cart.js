// The cart: the count in the top bar, "Add to cart" / "Buy now" on product pages, and /cart.
import { api, ApiError, csrfToken, el, money, showError, uuid } from "/static/app.js";

// Like app.js's api(), with an Idempotency-Key header (the cart add and the checkout take one).
export async function apiWithKey(method, path, body, key) {
  const res = await fetch(path, {
    method, credentials: "same-origin", body: JSON.stringify(body),
    headers: { "X-CSRF-Token": csrfToken(), "Content-Type": "application/json", "Idempotency-Key": key },
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = data.error || {};
    throw new ApiError(res.status, err.code || "error", err.message || res.statusText, data);
  }
  return data;
}

export function priceOf(m) {
  return m ? money(m.amount, m.currency) : "—";
}

export async function refreshCartCount(count) {
  const badge = document.querySelector("[data-cart-count]");
  if (!badge) return;
  if (count === undefined) {
    try { ({ count } = await api("GET", "/api/v1/cart/count")); } catch { return; }
  }
  badge.textContent = String(count);
  badge.hidden = !count;
}

function lineThumb(url) {
  return url ? el("img", { src: url, alt: "", loading: "lazy" }) : el("div", { class: "line-thumb", "aria-hidden": "true" });
}

// -- the product page ---------------------------------------------------------------------------
function productPage(root) {
  const form = root.querySelector("#product-buy");
  const notice = root.querySelector("#product-notice");
  const error = root.querySelector("#product-error");
  const main = root.querySelector("#product-main-image");
  for (const thumb of root.querySelectorAll(".product-thumb")) {
    thumb.addEventListener("click", () => {
      if (main) main.src = thumb.dataset.image;
      for (const t of root.querySelectorAll(".product-thumb")) t.classList.toggle("is-current", t === thumb);
    });
  }
  if (!form) return;
  const qty = form.querySelector("input[name=quantity]");
  const max = Number.parseInt(qty.max, 10) || 1;
  const quantity = () => Math.min(max, Math.max(1, Number.parseInt(qty.value, 10) || 1));
  for (const b of form.querySelectorAll("[data-step]")) {
    b.addEventListener("click", () => { qty.value = String(Math.min(max, Math.max(1, quantity() + Number(b.dataset.step)))); });
  }
  qty.addEventListener("change", () => { qty.value = String(quantity()); });
  // One key per click-and-retry: a double click or a retried request adds the units once.
  let key = uuid();
  form.querySelector("[data-action=add-to-cart]").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    error.hidden = true;
    try {
      const { cart } = await apiWithKey("POST", "/api/v1/cart/lines",
        { product_id: Number(root.dataset.productId), quantity: quantity() }, key);
      key = uuid();
      refreshCartCount(cart.count);
      notice.replaceChildren(`Added ${quantity()} to your cart. `, el("a", { href: "/cart", "data-testid": "go-to-cart" }, "View cart →"));
      notice.hidden = false;
    } catch (err) {
      if (err instanceof ApiError) key = uuid();
      showError(error, err);
    } finally {
      button.disabled = false;
    }
  });
  form.querySelector("[data-action=buy-now]").addEventListener("click", () => {
    window.location.assign(`/checkout?product_id=${encodeURIComponent(root.dataset.productId)}&quantity=${quantity()}`);
  });
}

// -- the cart page ------------------------------------------------------------------------------
function cartLine(line, onChange) {
  const input = el("input", { type: "number", min: "1", max: String(Math.max(1, Math.min(line.stock, 999))),
    value: String(line.quantity), "aria-label": `Quantity of ${line.title}`, "data-testid": "cart-qty" });
  input.addEventListener("change", () => onChange("PUT", line, Number.parseInt(input.value, 10)));
  const state = line.state === "unavailable" ? "No longer for sale"
    : line.state === "insufficient_stock" ? (line.stock ? `Only ${line.stock} left` : "Sold out") : null;
  return el("div", { class: `cart-line${line.state === "ok" ? "" : " is-unavailable"}`, "data-testid": "cart-line",
                     "data-product-id": line.product_id },
    lineThumb(line.image_url),
    el("div", { class: "line-body" },
      el("a", { href: `/products/${line.product_id}` }, line.title),
      el("span", { class: "muted small" }, `${priceOf(line.unit_price)} each`),
      state ? el("span", { class: "badge bad" }, state) : null),
    el("div", { class: "line-side" },
      el("strong", { "data-testid": "cart-line-total" }, priceOf(line.line_total)),
      el("div", { class: "qty" }, input),
      el("button", { type: "button", class: "link small", "data-testid": "cart-remove",
                     onclick: () => onChange("DELETE", line) }, "Remove")));
}

function cartPage(root) {
  const groups = root.querySelector("#cart-groups");
  const summary = root.querySelector("#cart-summary");
  const error = root.querySelector("#cart-error");
  const draw = (cart) => {
    groups.setAttribute("aria-busy", "false");
    refreshCartCount(cart.count);
    if (!cart.groups.length) {
      groups.replaceChildren(el("div", { class: "panel", "data-testid": "cart-empty" },
        el("p", {}, "Your cart is empty."), el("a", { class: "button", href: "/" }, "Discover products")));
      summary.hidden = true;
      return;
    }
    groups.replaceChildren(...cart.groups.map(g => el("section", { class: "cart-group panel", "data-testid": "cart-group",
                                                                  "data-shop-id": g.shop.id },
      el("h2", {}, el("a", { href: `/shops/${g.shop.id}` }, g.shop.name)),
      ...g.lines.map(line => cartLine(line, change)),
      el("div", { class: "cart-subtotal" }, el("span", { class: "muted" }, "Subtotal"),
        el("strong", { "data-testid": "cart-subtotal" }, priceOf(g.subtotal))))));
    root.querySelector("#cart-items").textContent = String(cart.count);
    root.querySelector("#cart-total").textContent = cart.totals.map(priceOf).join(" + ") || "—";
    const blocked = cart.groups.some(g => g.lines.some(l => l.state !== "ok"));
    root.querySelector("#cart-checkout").classList.toggle("secondary", blocked);
    root.querySelector("#cart-checkout").title = blocked ? "Remove the lines marked in red first" : "";
    summary.hidden = false;
  };
  const change = async (method, line, quantity) => {
    error.hidden = true;
    try {
      const path = `/api/v1/cart/lines/${line.product_id}`;
      const { cart } = method === "PUT" ? await api("PUT", path, { quantity }) : await api("DELETE", path);
      draw(cart);
    } catch (err) {
      showError(error, err);
      summary.hidden = false;
      load();
    }
  };
  const load = async () => {
    try { draw((await api("GET", "/api/v1/cart")).cart); } catch (err) { showError(error, err); }
  };
  load();
}

const product = document.querySelector("[data-product-page]");
if (product) productPage(product);
const cart = document.querySelector("[data-cart-view]");
if (cart) cartPage(cart);
else refreshCartCount();
