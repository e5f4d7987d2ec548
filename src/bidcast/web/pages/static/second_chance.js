// Second-chance offers, added to the order pages by one <script> line each:
// - seller orders: "Offer to runner-up (name, amount)" for auction orders cancelled unpaid;
// - my orders: offers made to me, with "Decline" (paying works like any order, in the list).
import { api, el, money, showError } from "/static/app.js";

const price = (m) => money(m.amount, m.currency);

function panel(title, testid) {
  const box = el("section", { class: "second-chance", "data-testid": testid, "aria-live": "polite" },
    el("h2", {}, title));
  const view = document.querySelector("[data-orders-view]");
  if (view) view.before(box);
  else document.querySelector("main").prepend(box);
  return box;
}

function sellerRow(o) {
  const who = o.runner_up;
  const error = el("p", { class: "error", hidden: true });
  const button = el("button", { type: "button", class: "small", "data-testid": "offer-runner-up" },
    `Offer to runner-up (${who.display_name}, ${price(who.amount)})`);
  const row = el("article", { class: "item", "data-order-id": o.order_id, "data-testid": "second-chance-row" },
    el("div", { class: "item-thumb", "aria-hidden": "true" }),
    el("div", { class: "item-body" },
      el("strong", { class: "item-title" }, o.title || `Order #${o.order_id}`),
      el("span", { class: "small" }, `Order #${o.order_id} was left unpaid.`),
      el("span", { class: "muted small" }, "The runner-up can buy it at their highest bid.")),
    el("div", { class: "item-actions" }, button, error));
  button.addEventListener("click", async () => {
    button.disabled = true;
    error.hidden = true;
    try {
      const done = await api("POST", `/api/v1/orders/${o.order_id}/second-chance`);
      button.replaceWith(el("span", { class: "badge ok", "data-testid": "offered" },
        `Offered to ${who.display_name}: order #${done.offered.order_id}`));
    } catch (err) {
      showError(error, err);
      button.disabled = false;
    }
  });
  return row;
}

function buyerRow(o) {
  const error = el("p", { class: "error", hidden: true });
  const decline = el("button", { type: "button", class: "small secondary", "data-testid": "decline-offer" }, "Decline");
  const row = el("article", { class: "item", "data-order-id": o.order_id, "data-testid": "second-chance-offer" },
    el("div", { class: "item-thumb", "aria-hidden": "true" }),
    el("div", { class: "item-body" },
      el("strong", { class: "item-title" }, o.title),
      el("span", { class: "muted small" }, `Yours for ${price(o.amount)}: the winner did not pay.`)),
    el("div", { class: "item-actions" },
      el("a", { class: "button small", href: `#order-${o.order_id}` }, "Pay below"), decline, error));
  decline.addEventListener("click", async () => {
    decline.disabled = true;
    try {
      await api("POST", `/api/v1/orders/${o.order_id}/decline`);
      window.location.reload();
    } catch (err) {
      showError(error, err);
      decline.disabled = false;
    }
  });
  return row;
}

async function main() {
  const view = document.querySelector("[data-orders-view]")?.dataset.ordersView;
  if (view === "seller") {
    const { offerable } = await api("GET", "/api/v1/me/second-chances");
    if (offerable.length) panel("Second chances", "second-chances").append(...offerable.map(sellerRow));
  } else if (view === "buyer") {
    const { offers } = await api("GET", "/api/v1/me/second-chance-offers");
    if (offers.length) panel("Offers for you", "second-chance-offers").append(...offers.map(buyerRow));
  }
}

main().catch(() => {});
