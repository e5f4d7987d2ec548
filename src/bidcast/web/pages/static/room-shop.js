// The live room's shop: a bag button on the video opens the host shop's products; Buy now checks
// out in a sheet over the room (address + shipping → pay), so the viewer never leaves the show.
import { api, el } from "/static/app.js";
import { priceOf } from "/static/cart.js";
import { mountCheckout } from "/static/checkout.js";

const panel = document.querySelector("[data-room-shop]");
const opener = document.querySelector("[data-testid=room-shop-open]");

function sheet(product) {
  const body = el("div", { class: "checkout" });
  const qty = el("input", { type: "number", min: "1", max: String(Math.min(product.stock, 999)), value: "1",
                            "aria-label": "Quantity", "data-testid": "sheet-qty" });
  const close = el("button", { type: "button", class: "link", "data-testid": "sheet-close" }, "Close");
  const dialog = el("dialog", { class: "buy-sheet", "data-testid": "buy-sheet", "aria-label": `Buy ${product.title}` },
    el("div", { class: "buy-sheet-head" }, el("strong", {}, product.title), close),
    el("div", { class: "row" }, el("span", { class: "price" }, priceOf(product.price)),
      el("label", { class: "qty" }, "Quantity", qty)),
    body);
  const start = () => {
    const quantity = Math.min(product.stock, Math.max(1, Number.parseInt(qty.value, 10) || 1));
    qty.value = String(quantity);
    mountCheckout(body, { productId: product.id, quantity, inSheet: true,
                          onDone: () => { qty.disabled = true; load(); } });
  };
  qty.addEventListener("change", start);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  start();
}

function row(p) {
  const loggedIn = panel.dataset.loggedIn === "1";
  const action = panel.dataset.isHost === "1" ? null
    : loggedIn ? el("button", { type: "button", class: "small", "data-testid": "room-buy-now",
                                onclick: () => { panel.close(); sheet(p); } }, "Buy now")
    : el("a", { class: "button small", href: `/login?next=/rooms/${panel.dataset.roomId}` }, "Log in to buy");
  return el("li", { class: "room-shop-item", "data-testid": "room-shop-item", "data-product-id": p.id },
    p.image_urls.length ? el("img", { src: p.image_urls[0], alt: "", loading: "lazy" }) : el("div", { class: "line-thumb" }),
    el("div", {}, el("a", { href: `/products/${p.id}`, target: "_blank", rel: "noopener" }, p.title), el("br"),
      el("span", { class: "small" }, priceOf(p.price)), el("span", { class: "muted small" }, ` · ${p.stock} left`)),
    action);
}

async function load() {
  try {
    const { shop, products } = await api("GET", `/api/v1/rooms/${panel.dataset.roomId}/shop`);
    if (!shop || !products.length) { opener.hidden = true; return; }
    panel.querySelector("[data-room-shop-name]").textContent = shop.name;
    panel.querySelector("[data-testid=room-shop-list]").replaceChildren(...products.map(row));
    opener.querySelector("[data-room-shop-count]").textContent = String(products.length);
    opener.hidden = false;
  } catch {
    opener.hidden = true;  // the room works without its shop
  }
}

if (panel && opener) {
  opener.addEventListener("click", () => { load(); panel.showModal(); });
  panel.querySelector("[data-room-shop-close]").addEventListener("click", () => panel.close());
  load();
}
