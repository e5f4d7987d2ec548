// A person's own pages: overview, bids, orders, notifications (read from /api/v1/me/...).
import { api, ApiError, el, money, showError, uuid } from "/static/app.js";
import { badge, empty, fill, orderBadge, poll, thumb, time } from "/static/me_ui.js";

const BID_STATE = {
  leading: ["Leading", "ok"],
  outbid: ["Outbid", "warn"],
  won: ["Won", "ok"],
  lost: ["Lost", "bad"],
  unsold: ["Unsold", ""],
};

const NEWS_ICON = {
  outbid: "↓", won: "★", lost: "✕", unsold: "–", sale: "€",
  shop_approved: "✓", shop_rejected: "!", shop_pending: "…",
};

function priceOf(m) {
  return m ? money(m.amount, m.currency) : "—";
}

function titleLink(text, url) {
  return url ? el("a", { class: "item-title", href: url }, text) : el("strong", { class: "item-title" }, text);
}

export function bidRow(b) {
  const [stateText, tone] = BID_STATE[b.state] || [b.state, ""];
  const running = b.status === "running";
  const meta = [b.room_title, `${b.bid_count} bid${b.bid_count === 1 ? "" : "s"}`].filter(Boolean).join(" · ");
  let action = null;
  if (b.state === "outbid" && b.url) {
    action = el("a", { class: "button small", href: b.url, "data-testid": "bid-again" }, "Bid again");
  } else if (b.state === "won" && b.order) {
    action = el("a", { class: "button small", href: `/me/orders#order-${b.order.id}`, "data-testid": "pay-now" },
      b.order.status === "awaiting_payment" ? "Pay now" : "View order");
  } else if (running && b.url) {
    action = el("a", { class: "button small secondary", href: b.url }, "Watch");
  }
  return el("article", { class: `item state-${b.state}`, "data-testid": "my-bid-row",
                         "data-state": b.state, "data-auction-id": b.auction_id },
    thumb(b.product.image_url),
    el("div", { class: "item-body" },
      titleLink(b.product.title, b.url),
      el("span", { class: "muted small" }, meta),
      el("span", { class: "small" }, "Your max ", el("strong", {}, priceOf(b.your_max)),
        running ? null : [" · ended ", time(b.closed_at || b.closes_at)])),
    el("div", { class: "item-side" },
      badge(stateText, tone, { "data-testid": "bid-state" }),
      el("span", { class: "price", "data-testid": "bid-price" }, priceOf(b.price)),
      el("span", { class: "muted small" }, running ? "current price" : b.state === "unsold" ? "highest bid" : "final price")),
    action ? el("div", { class: "item-actions" }, action) : null);
}

export function orderRow(o) {
  return el("article", { class: "item", id: `order-${o.id}`, "data-testid": "my-order-row", "data-order-id": o.id },
    thumb(o.product.image_url),
    el("div", { class: "item-body" },
      el("strong", { class: "item-title" }, o.product.title),
      el("span", { class: "muted small" }, `from ${o.shop.name}`),
      el("span", { class: "muted small" }, `Order #${o.id} · `, time(o.created_at))),
    el("div", { class: "item-side" },
      orderBadge(o.status),
      el("span", { class: "price" }, priceOf(o.total)),
      o.status === "awaiting_payment" ? el("span", { class: "muted small" }, "to pay") : null),
    o.status === "awaiting_payment" ? payForm(o) : null);
}

// Pay without leaving the page. One idempotency key per form: a double click or a retry after a
// network error can never charge twice. The card number goes to the payment provider only.
function payForm(o) {
  let key = uuid();
  const card = el("input", { name: "payment_method", inputmode: "numeric", autocomplete: "cc-number",
    placeholder: "Card number (sandbox: 4242 4242 4242 4242)", "data-testid": "pay-card", required: true });
  const error = el("p", { class: "error", hidden: true, "data-testid": "pay-error" });
  const button = el("button", { type: "submit", class: "small", "data-testid": "pay-submit" }, `Pay ${priceOf(o.total)}`);
  return el("form", {
    class: "pay-form", "data-testid": "pay-form",
    onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      button.disabled = true;
      try {
        await api("POST", `/api/v1/orders/${o.id}/pay`,
          { payment_method: card.value.replace(/\s+/g, ""), idempotency_key: key });
        window.location.reload();
      } catch (err) {
        showError(error, err);
        button.disabled = false;
        // The server answered (a decline, say): the next try is a new attempt with a new key.
        // Without an answer (network), the same key makes the retry safe.
        if (err instanceof ApiError) key = uuid();
      }
    },
  }, card, button, error);
}

export function newsRow(n) {
  const tone = { won: "ok", sale: "ok", shop_approved: "ok", outbid: "warn", lost: "bad", shop_rejected: "bad" }[n.kind] || "";
  return el("article", { class: "item news", "data-testid": "notification-row", "data-kind": n.kind },
    el("span", { class: `news-icon ${tone}`, "aria-hidden": "true" }, NEWS_ICON[n.kind] || "•"),
    el("div", { class: "item-body" },
      el("span", { class: "news-text" }, n.text),
      el("span", { class: "muted small" }, time(n.at), n.amount ? [" · ", priceOf(n.amount)] : null)),
    n.url && n.action ? el("div", { class: "item-side" },
      el("a", { class: `button small ${n.kind === "won" ? "" : "secondary"}`.trim(), href: n.url }, n.action))
      : n.url ? el("div", { class: "item-side" }, el("a", { class: "small", href: n.url }, "View")) : null);
}

async function bidsPage(root) {
  const live = root.querySelector("[data-list=live]");
  const ended = root.querySelector("[data-list=ended]");
  let running = false;
  const load = async () => {
    const { bids } = await api("GET", "/api/v1/me/bids");
    running = bids.some(b => b.status === "running");
    return bids;
  };
  const render = async () => {
    let bids;
    await fill(live, async () => (bids = await load()).filter(b => b.status === "running"), bidRow,
      () => empty(bids && bids.length ? "None of your lots is live right now." : "You haven't bid on anything yet.",
        { href: "/", text: "Find a live show" }));
    if (bids) ended.replaceChildren(...(bids.some(b => b.status !== "running")
      ? bids.filter(b => b.status !== "running").map(bidRow) : [empty("Nothing has ended yet.")]));
    else ended.replaceChildren();
  };
  await render();
  poll(render, 5000, () => running);
}

async function overview(root) {
  const stats = root.querySelectorAll("[data-stat]");
  const live = root.querySelector("[data-list=live]");
  const news = root.querySelector("[data-list=news]");
  let running = false;
  const render = async () => {
    let summary = null;
    await fill(live, async () => {
      summary = await api("GET", "/api/v1/me/summary");
      running = summary.live.length > 0;
      return summary.live;
    }, bidRow, () => empty("You're not bidding on anything live.", { href: "/", text: "Find a live show" }));
    if (!summary) return;
    for (const node of stats) {
      const [group, key] = node.dataset.stat.split(".");
      node.textContent = String(summary[group]?.[key] ?? 0);
    }
    news.replaceChildren(...(summary.notifications.length ? summary.notifications.map(newsRow)
      : [empty("No news yet. Bid on something and we'll keep you posted.")]));
  };
  await render();
  poll(render, 10000, () => running);
}

async function ordersPage(root) {
  await fill(root.querySelector("[data-list=orders]"),
    async () => (await api("GET", "/api/v1/me/orders")).orders, orderRow,
    () => empty("No orders yet. Lots you win show up here.", { href: "/", text: "Find a live show" }));
  // Arriving from "Pay now": the rows did not exist when the browser looked for the #order-N.
  const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target) { target.classList.add("is-target"); target.scrollIntoView({ block: "center" }); }
}

async function notificationsPage(root) {
  const box = root.querySelector("[data-list=news]");
  const render = () => fill(box, async () => (await api("GET", "/api/v1/me/notifications")).notifications,
    newsRow, () => empty("No news yet. Bid on something and we'll keep you posted.", { href: "/", text: "Find a live show" }));
  await render();
  poll(render, 20000, () => true);
}

const root = document.querySelector("[data-me-view]");
const pages = { overview, bids: bidsPage, orders: ordersPage, notifications: notificationsPage };
if (root) pages[root.dataset.meView]?.(root);
