// The room's flash sale (docs/flash-sales.md): sale price against the regular one, stock left
// counting down live from flash.* events (the highest `version` wins), a countdown on the server
// clock, Buy with a per-buyer quantity limit, and Pay now in place, without leaving the show.
// Everything from the server goes into the page as text (el(), textContent).
import { ApiError, api, el, money, uuid } from "/static/app.js";
import { apiWithKey } from "/static/cart.js";
import { Countdown } from "/static/countdown.js";
import { setText } from "/static/room-format.js";
import { needsBankStep, passBankStep } from "/static/pay-step.js";

const LINGER_MS = 60_000;   // an ended sale stays in view this long (longer while an order waits to be paid)

const REFUSED = {
  sold_out: () => "Sold out — every unit is taken.",
  not_enough_left: (e) => `Only ${e.left ?? "a few"} left — pick fewer.`,
  limit_reached: (_, s) => `You have reached the limit of ${s.per_buyer_limit} per buyer.`,
  not_running: () => "This flash sale has ended.",
  own_sale: () => "You can't buy from your own flash sale.",
};

// One flash.* event on top of the sale as shown (null: none yet). Returns the sale to show, the
// same object updated in place, or null when the event changes nothing (older, or another sale).
// Shared with the host console (host-flash.js).
export function foldFlash(sale, type, d, now) {
  if (type === "flash.started") {
    return sale && (d.sale.id < sale.id || (d.sale.id === sale.id && d.sale.version <= sale.version)) ? null : d.sale;
  }
  if (!sale || d.sale_id !== sale.id) return null;
  if (type === "flash.ended") {   // final, whatever stock events are still on their way
    return Object.assign(sale, { sold: d.sold, left: 0, state: "ended", outcome: d.outcome, returned: d.returned,
                                 ended_at: sale.ended_at ?? now, version: Math.max(sale.version, d.version) });
  }
  if (type !== "flash.stock" || sale.state === "ended" || d.version <= sale.version) return null;
  return Object.assign(sale, { sold: d.sold, left: d.left, version: d.version, state: d.state });
}

// snapshot(flash) and event(type, data) are called by room.js; clock is the room's ServerClock.
export function mountRoomFlash(clock) {
  const box = document.getElementById("room-flash");
  const room = document.getElementById("room");
  if (!box || !room) return { snapshot() {}, event() {} };
  const meId = Number(room.dataset.meId) || null;
  const isHost = meId !== null && meId === Number(room.dataset.hostId);

  let sale = null;        // the sale as shown (GET /api/v1/flash-sales/{id}'s `sale`)
  let mine = 0;           // units this viewer holds from it
  let qty = 1;
  let busy = false;
  let retryKey = null;    // kept only when a purchase got no answer: the retry is then the same attempt
  let lingerTimer = 0;
  const orders = new Map();   // order id -> {paid}

  const t = (testid, tag = "span", attrs = {}, ...kids) => el(tag, { "data-testid": testid, ...attrs }, ...kids);
  const N = {
    img: el("img", { alt: "", hidden: true }),
    state: t("flash-state", "span", { class: "badge room-flash-badge" }, "Flash sale"),
    endsIn: el("span", { class: "muted small" }, "ends in"),
    countdown: t("flash-countdown", "span", { class: "room-flash-clock" }),
    title: t("flash-title", "strong", { class: "room-flash-title" }),
    price: t("flash-price", "span", { class: "room-flash-price" }),
    regular: t("flash-regular", "s", { class: "muted small" }),
    off: el("span", { class: "badge room-flash-off" }),
    fill: el("span", { class: "room-flash-fill" }),
    left: t("flash-left", "strong", { class: "room-flash-left" }),
    limit: el("span", { class: "muted small" }),
    minus: el("button", { type: "button", class: "secondary small", "aria-label": "One less" }, "−"),
    qty: t("flash-qty", "output", { class: "room-flash-qty", "aria-label": "Quantity" }, "1"),
    plus: el("button", { type: "button", class: "secondary small", "aria-label": "One more" }, "+"),
    buy: t("flash-buy", "button", { type: "button", class: "room-flash-buy" }, "Buy now"),
    message: t("flash-message", "p", { class: "room-flash-message", role: "status", "aria-live": "polite" }),
    orders: t("flash-orders", "div", { class: "room-flash-orders" }),
  };
  const stepper = el("span", { class: "room-flash-stepper" }, N.minus, N.qty, N.plus);
  const action = isHost ? el("p", { class: "muted small room-flash-host" }, "Your sale — follow it in the host console.")
    : meId ? el("div", { class: "room-flash-actions" }, stepper, N.buy)
    : el("a", { class: "button room-flash-buy", "data-testid": "flash-login", href: `/login?next=/rooms/${room.dataset.roomId}` }, "Log in to buy");
  box.replaceChildren(
    el("div", { class: "room-flash-head" }, N.state, N.endsIn, N.countdown),
    el("div", { class: "room-flash-main" },
      el("div", { class: "room-flash-thumb" }, N.img),
      el("div", { class: "room-flash-info" }, N.title,
        el("span", { class: "room-flash-prices" }, N.price, " ", N.regular, " ", N.off))),
    el("div", { class: "room-flash-stock" },
      el("span", { class: "room-flash-bar", "aria-hidden": "true" }, N.fill), N.left, N.limit),
    action, N.message, N.orders);
  const countdown = new Countdown(N.countdown, clock, { onZero: render });

  const ended = () => sale.state === "ended" || clock.now() >= sale.ends_at;
  const canHave = () => Math.max(0, Math.min(sale.per_buyer_limit - mine, sale.left));

  function say(text, tone = "info") {
    setText(N.message, text);
    N.message.dataset.tone = tone;
  }

  function render() {
    if (!sale) { box.hidden = true; return; }
    const over = ended();
    const soldOut = sale.outcome ? sale.outcome === "sold_out" : sale.sold >= sale.quantity || (!over && sale.left <= 0);
    const word = soldOut ? "Sold out" : over ? "Ended" : "Flash sale";
    setText(N.state, word);
    box.dataset.state = over ? "ended" : soldOut ? "sold_out" : "running";
    countdown.set(over ? null : sale.ends_at, over ? "" : null);
    N.endsIn.hidden = over;
    setText(N.title, sale.title);
    setText(N.price, money(sale.sale_price, sale.currency));
    setText(N.regular, money(sale.regular_price, sale.currency));
    const pct = Math.round((1 - sale.sale_price / sale.regular_price) * 100);
    setText(N.off, pct > 0 ? `−${pct}%` : "");
    N.off.hidden = pct <= 0;
    setText(N.left, over && !soldOut ? `${sale.sold} sold` : `${sale.left} left`);
    N.fill.style.width = `${sale.quantity ? (100 * sale.left) / sale.quantity : 0}%`;
    setText(N.limit, `of ${sale.quantity} · limit ${sale.per_buyer_limit} per buyer${mine ? ` · you have ${mine}` : ""}`);
    const allowed = canHave();
    qty = Math.max(1, Math.min(qty, allowed || 1));
    setText(N.qty, String(qty));
    stepper.hidden = sale.per_buyer_limit <= 1;
    N.minus.disabled = qty <= 1 || busy;
    N.plus.disabled = qty >= allowed || busy;
    const open = !over && !soldOut && allowed > 0;
    N.buy.disabled = !open || busy;
    setText(N.buy, busy ? "Buying…" : over || soldOut ? word
      : allowed <= 0 ? "Limit reached" : `Buy ${qty > 1 ? `${qty} ` : ""}· ${money(sale.sale_price * qty, sale.currency)}`);
    const recent = !over || clock.now() - (sale.ended_at ?? sale.ends_at) < LINGER_MS;
    box.hidden = !recent && ![...orders.values()].some((o) => !o.paid);
    if (over) {
      clearTimeout(lingerTimer);
      lingerTimer = setTimeout(render, LINGER_MS + 500);
    }
  }

  // Join a (possibly new) sale: its image and, once, the committed count and this viewer's units.
  async function refresh() {
    const id = sale.id;
    try {
      const data = await api("GET", `/api/v1/flash-sales/${id}`);
      if (sale?.id !== id) return;
      if (data.sale.version > sale.version) Object.assign(sale, data.sale, { image_url: sale.image_url });
      if (data.mine) mine = Math.max(mine, data.mine.bought);
      render();
    } catch { /* the events keep it current */ }
  }

  async function loadImage() {
    const id = sale.id;
    let url = sale.image_url;
    if (!url) {
      try { url = (await api("GET", `/api/v1/products/${sale.product_id}`)).product.image_urls?.[0]; } catch { return; }
    }
    if (url && sale?.id === id) { N.img.src = url; N.img.hidden = false; }
  }

  function adopt(next) {
    const fresh = sale?.id !== next.id;
    if (!fresh && next.version <= sale.version) return false;
    sale = { ...next, image_url: next.image_url ?? (fresh ? null : sale.image_url) };
    if (fresh) {
      mine = 0; qty = 1; retryKey = null; say("");
      N.img.hidden = true;
      for (const [id, o] of orders) if (o.paid) { orders.delete(id); o.node.remove(); }
      loadImage();
    }
    return true;
  }

  async function buy() {
    if (!sale || busy) return;
    const id = sale.id, quantity = qty;
    const key = retryKey ?? uuid();
    busy = true; say(""); render();
    try {
      const { purchase } = await apiWithKey("POST", `/api/v1/flash-sales/${id}/purchase`, { quantity }, key);
      retryKey = null;
      if (!orders.has(purchase.order.id)) {
        mine += purchase.quantity;
        addOrder(purchase.order, purchase.quantity);
      }
      say(`You got ${purchase.quantity}! Pay below to secure ${purchase.quantity > 1 ? "them" : "it"}.`, "good");
    } catch (err) {
      if (err instanceof ApiError) {
        retryKey = null;
        const e = err.body?.error || {};
        if (err.status === 401) say("Log in to buy — your session has ended.", "bad");
        else say((REFUSED[err.code]?.(e, sale) ?? err.message) || "Not bought.", "bad");
        if (err.code === "limit_reached" || err.code === "not_enough_left") refresh();
      } else {
        retryKey = key;   // no answer: the next tap repeats this attempt and can't buy twice
        say("No answer from the shop — tap Buy again; you won't be charged twice.", "bad");
      }
    } finally {
      busy = false;
      if (sale?.id === id) render();
    }
  }

  // Pay the order right here: one key per payment attempt that got an answer (as in My orders).
  function addOrder(order, quantity) {
    let key = uuid();
    const card = t("flash-pay-card", "input", { inputmode: "numeric", autocomplete: "cc-number", required: true,
      placeholder: "Card number", "aria-label": "Card number" });
    const pay = t("flash-pay", "button", { type: "submit", class: "small" }, "Pay now");
    const error = t("flash-pay-error", "p", { class: "error small", hidden: true });
    const clockNode = el("span", {});
    const due = new Countdown(clockNode, clock);
    const deadline = el("span", { class: "muted small" }, "pay within ", clockNode);
    const entry = { paid: false, node: null };
    const form = el("form", { class: "room-flash-pay", autocomplete: "on", onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      pay.disabled = true;
      try {
        await api("POST", `/api/v1/orders/${order.id}/pay`, { payment_method: card.value.replace(/\s+/g, ""), idempotency_key: key })
          .catch((err) => {   // the bank asks for an extra step: confirm it here, then it is paid
            if (!needsBankStep(err)) throw err;
            key = uuid();
            return passBankStep(err, { orderId: order.id, amount: { amount: order.amount, currency: order.currency } });
          });
        entry.paid = true;
        due.set(null, "");
        form.replaceWith(t("flash-paid", "strong", { class: "room-flash-paid" }, "Paid ✓"));
        deadline.remove();
        render();
      } catch (err) {
        if (err instanceof ApiError) key = uuid();   // a decline is an answer: the next try is new
        error.replaceChildren(err instanceof ApiError ? err.message : "No answer — try again; you won't be charged twice.");
        if (err.code === "bank_step_pending") error.append(" ", el("a", { href: `/me/orders#order-${order.id}` }, "See it in My orders"));
        error.hidden = false;
        pay.disabled = false;
      }
    } }, card, pay);
    entry.node = t("flash-order", "div", { class: "room-flash-order", "data-order-id": order.id },
      el("div", { class: "room-flash-order-line" },
        el("span", {}, `Order #${order.id} · ${quantity} × ${sale.title} · `, el("strong", {}, money(order.amount, order.currency))),
        deadline),
      form, error);
    orders.set(order.id, entry);
    N.orders.append(entry.node);
    if (order.pay_by) due.set(order.pay_by); else deadline.remove();
  }

  N.buy.addEventListener("click", buy);
  N.minus.addEventListener("click", () => { qty -= 1; render(); });
  N.plus.addEventListener("click", () => { qty += 1; render(); });

  return {
    snapshot(flash) {
      if (!flash) { render(); return; }
      adopt(flash);
      render();
      refresh();   // the snapshot's sold/left may be older than its seq
    },
    event(type, d) {
      const next = foldFlash(sale, type, d, clock.now());
      if (!next) return;
      if (next !== sale) adopt(next); else sale = next;
      render();
    },
  };
}
