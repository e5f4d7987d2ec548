// Orders after the win, for the buyer and the seller: lines, states, tracking, audit trail, and the
// next step (pay, cancel with a reason, ship with carrier + tracking); the seller's balance and
// payouts. Everything comes from /api/v1 and goes into the page as text through el().
import { api, ApiError, el, money, showError, uuid } from "/static/app.js";
import { badge, empty, fill, label, orderBadge, thumb, time, when } from "/static/me_ui.js";
import { needsBankStep, passBankStep } from "/static/pay-step.js";

const EVENT_TEXT = {
  created: "Order placed", paid: "Paid", shipped: "Shipped", in_transit: "In transit",
  delivered: "Delivered", delivery_exception: "Carrier reports a problem", completed: "Completed",
  cancelled: "Cancelled", refunded: "Refunded", funds_released: "Funds released to the seller",
};
const TRACKING_TEXT = { in_transit: "In transit", delivered: "Delivered", exception: "Problem reported" };

const priceOf = (m) => (m ? money(m.amount, m.currency) : "—");
let carriers = null;
const carrierList = async () => (carriers ??= (await api("GET", "/api/v1/carriers")).carriers);

function linesOf(o) {
  return el("ul", { class: "order-lines", "data-testid": "order-lines" },
    o.lines.map(l => el("li", {}, `${l.quantity} × ${l.title}`, " ",
      el("span", { class: "muted" }, priceOf(l.unit_price)))));
}

function trackingOf(o) {
  if (!o.tracking) return null;
  return el("div", { class: "order-tracking", "data-testid": "order-tracking" },
    el("strong", {}, `${o.tracking.carrier.toUpperCase()} · ${o.tracking.tracking_number}`),
    o.tracking.events.length ? el("ol", { class: "timeline" }, o.tracking.events.map(t =>
      el("li", { "data-testid": "tracking-event", "data-event": t.event },
        el("span", {}, TRACKING_TEXT[t.event] || label(t.event), t.detail ? ` — ${t.detail}` : ""),
        " ", el("span", { class: "muted small" }, when(t.occurred_at)))))
      : el("p", { class: "muted small" }, "No scan from the carrier yet."));
}

function trailOf(o) {
  return el("ol", { class: "timeline", "data-testid": "order-events" }, o.events.map(e =>
    el("li", { "data-testid": "order-event", "data-kind": e.kind },
      el("span", {}, EVENT_TEXT[e.kind] || label(e.kind)),
      e.detail ? el("span", { class: "muted" }, ` — ${e.detail}`) : null,
      " ", el("span", { class: "muted small" }, `${e.actor} · `, time(e.at)))));
}

function stateLine(o) {
  const parts = [`Payment: ${label(o.payment_state)}`, `Parcel: ${label(o.fulfilment_state)}`];
  if (o.refunded.amount) parts.push(`Refunded ${priceOf(o.refunded)}`);
  return el("span", { class: "muted small", "data-testid": "order-states" }, parts.join(" · "));
}

// A small form that posts to the API and hands the answer to `done`. One idempotency key per
// form where the endpoint takes one: a double click or a retry after a network error is safe.
function actionForm(testid, fields, text, submit, done) {
  const error = el("p", { class: "error", hidden: true, "data-testid": `${testid}-error` });
  const button = el("button", { type: "submit", class: "small", "data-testid": `${testid}-submit` }, text);
  return el("form", { class: "inline-form", "data-testid": testid, onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      done(await submit());
    } catch (err) {
      showError(error, err);
      button.disabled = false;
    }
  } }, ...fields, button, error);
}

function payForm(o, reload) {
  let key = uuid();
  const card = el("input", { name: "payment_method", inputmode: "numeric", autocomplete: "cc-number",
    placeholder: "Card number (sandbox: 4242 4242 4242 4242)", "data-testid": "pay-card", required: true });
  const form = actionForm("pay", [card], `Pay ${priceOf(o.total)}`, async () => {
    try {
      return await api("POST", `/api/v1/orders/${o.id}/pay`,
        { payment_method: card.value.replace(/\s+/g, ""), idempotency_key: key });
    } catch (err) {
      // A decline is an answer: the next try is a new attempt. Without one, the same key retries.
      if (err instanceof ApiError) key = uuid();
      // The bank asks for an extra step: confirm there, then the order is paid (or this throws).
      if (needsBankStep(err)) return passBankStep(err, { orderId: o.id, amount: o.total });
      throw err;
    }
  }, reload);
  form.classList.add("pay-form");
  form.dataset.testid = "pay-form";
  return form;
}

function cancelForm(o, reload) {
  const reason = el("input", { name: "reason", minlength: 3, maxlength: 200, required: true,
    placeholder: "Why cancel? (the other side sees it)", "data-testid": "cancel-reason" });
  // A winner walking away from an unpaid lot gets a strike, as when the payment deadline passes.
  const strike = o.role === "buyer" && o.kind === "auction" && o.status === "awaiting_payment"
    ? el("p", { class: "small badge warn", "data-testid": "cancel-strike-warning" },
      "You won this lot: cancelling it unpaid counts as a strike (3 strikes and you can no longer bid).")
    : null;
  return el("details", { class: "cancel" }, el("summary", { class: "button small secondary" }, "Cancel order"),
    strike, actionForm("cancel-form", [reason], "Confirm cancel",
      () => api("POST", `/api/v1/orders/${o.id}/cancel`, { reason: reason.value }), reload));
}

function shipForm(o, reload) {
  const carrier = el("select", { name: "carrier", required: true, "data-testid": "ship-carrier" },
    el("option", { value: "" }, "Carrier…"));
  carrierList().then(list => carrier.append(...list.map(c => el("option", { value: c }, label(c))))).catch(() => null);
  const number = el("input", { name: "tracking_number", required: true, minlength: 6, maxlength: 60,
    placeholder: "Tracking number", autocomplete: "off", "data-testid": "ship-tracking" });
  return actionForm("ship-form", [carrier, number], "Mark shipped",
    () => api("POST", `/api/v1/orders/${o.id}/ship`, { carrier: carrier.value, tracking_number: number.value }), reload);
}

export function orderCard(o, reload, { open = false } = {}) {
  const seller = o.role === "seller";
  const actions = [];
  if (o.actions.includes("pay")) actions.push(payForm(o, reload));
  if (o.actions.includes("ship")) actions.push(shipForm(o, reload));
  if (o.actions.includes("cancel")) actions.push(cancelForm(o, reload));
  if (o.actions.includes("return")) {
    actions.push(el("a", { class: "button small secondary", href: `/orders/${o.id}/return`,
                           "data-testid": "return-link" }, "Request a return"));
  }
  return el("article", { class: "item order", id: `order-${o.id}`, "data-order-id": o.id, "data-status": o.status,
                         "data-testid": seller ? "order-row" : "my-order-row" },
    thumb(o.product.image_url),
    el("div", { class: "item-body" },
      el("a", { class: "item-title", href: `/orders/${o.id}` }, o.lines.length > 1
        ? `${o.lines[0].title} + ${o.lines.length - 1} more` : o.product.title),
      seller ? el("span", { class: "small" }, "Buyer: ", el("strong", { "data-testid": "order-buyer" }, o.buyer.display_name))
        : el("span", { class: "muted small" }, `from ${o.shop.name}`),
      el("span", { class: "muted small" }, `Order #${o.id} · `, time(o.created_at)),
      stateLine(o),
      o.cancel_reason ? el("span", { class: "small" }, `Cancelled: ${o.cancel_reason}`) : null),
    el("div", { class: "item-side" },
      orderBadge(o.status),
      el("span", { class: "price" }, priceOf(o.total)),
      o.status === "awaiting_payment" && !seller ? el("span", { class: "muted small" }, "to pay") : null),
    el("details", { class: "order-more", open: open || null },
      el("summary", { class: "small" }, "Items, tracking and history"),
      linesOf(o), trackingOf(o), trailOf(o)),
    actions.length ? el("div", { class: "item-actions" }, actions) : null);
}

function scrollToHash() {
  const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target) { target.classList.add("is-target"); target.scrollIntoView({ block: "center" }); }
}

async function list(root, asSeller) {
  const box = root.querySelector("[data-list=orders]");
  const filter = root.querySelector("[data-testid=status-filter]");
  const load = async () => {
    const params = new URLSearchParams({ as_seller: String(asSeller) });
    if (filter?.value) params.set("status", filter.value);
    await fill(box, async () => (await api("GET", `/api/v1/orders?${params}`)).orders,
      (o) => orderCard(o, load),
      () => empty(asSeller ? "No orders here yet." : "No orders yet. Lots you win show up here.",
        asSeller ? null : { href: "/", text: "Find a live show" }));
  };
  filter?.addEventListener("change", load);
  await load();
  scrollToHash();
}

async function detail(root) {
  const box = root.querySelector("[data-order]");
  const load = async () => {
    try {
      const { order } = await api("GET", `/api/v1/orders/${root.dataset.orderId}`);
      box.replaceChildren(orderCard(order, load, { open: true }));
    } catch (err) {
      box.replaceChildren(el("p", { class: "error", role: "alert" }, err instanceof ApiError ? err.message : "Could not load the order."));
    }
  };
  await load();
}

async function balance(root) {
  const render = async () => {
    const ledger = await api("GET", "/api/v1/shops/mine/ledger");
    const currency = root.querySelector("[name=currency]").value;
    const b = ledger.balance[currency] || { pending: 0, available: 0, paid_out: 0 };
    for (const k of ["pending", "available", "paid_out"]) {
      root.querySelector(`[data-testid=balance-${k}]`).textContent = money(b[k], currency);
    }
    await fill(root.querySelector("[data-list=payouts]"), async () => (await api("GET", "/api/v1/shops/mine/payouts")).payouts,
      p => el("div", { class: "line", "data-testid": "payout-row" }, el("strong", {}, priceOf(p.amount)),
        badge(label(p.status), "ok"), el("span", { class: "muted small" }, when(p.created_at))),
      () => empty("No payouts yet."));
    await fill(root.querySelector("[data-list=entries]"), async () => ledger.entries,
      e => el("div", { class: "line", "data-testid": "ledger-entry" }, el("span", {}, label(e.kind)),
        el("span", { class: "muted small" }, `${label(e.account)} · ${e.reference} · ${when(e.at)}`),
        el("strong", {}, `${e.amount.amount > 0 ? "+" : ""}${priceOf(e.amount)}`)),
      () => empty("Nothing yet: sales show up here once paid."));
  };
  const form = root.querySelector("[data-testid=payout-form]");
  let key = uuid();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".error");
    const button = form.querySelector("[type=submit]");
    error.hidden = true;
    button.disabled = true;
    try {
      const amount = Math.round(Number.parseFloat(form.elements.amount.value) * 100);
      await api("POST", "/api/v1/shops/mine/payouts",
        { amount, currency: root.querySelector("[name=currency]").value, idempotency_key: key });
      key = uuid();
      form.reset();
      await render();
    } catch (err) {
      showError(error, err);
      if (err instanceof ApiError) key = uuid();
    } finally {
      button.disabled = false;
    }
  });
  root.querySelector("[name=currency]").addEventListener("change", render);
  await render();
}

const views = { buyer: (r) => list(r, false), seller: (r) => list(r, true), detail, balance };
const root = document.querySelector("[data-orders-view]");
if (root) views[root.dataset.ordersView]?.(root);
