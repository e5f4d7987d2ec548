// A person's own pages: overview, bids, notifications (read from /api/v1/me/...); orders: orders.js.
import { notificationRow } from "/static/notifications.js";
import { api, el, money } from "/static/app.js";
import { badge, empty, fill, poll, thumb, time } from "/static/me_ui.js";

const BID_STATE = {
  leading: ["Leading", "ok"],
  outbid: ["Outbid", "warn"],
  won: ["Won", "ok"],
  lost: ["Lost", "bad"],
  unsold: ["Unsold", ""],
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
    news.replaceChildren(...(summary.notifications.length ? summary.notifications.map(notificationRow)
      : [empty("No news yet. Bid on something and we'll keep you posted.")]));
  };
  await render();
  poll(render, 10000, () => running);
}

const root = document.querySelector("[data-me-view]");
const pages = { overview, bids: bidsPage };  // orders: orders.js; notifications: notifications.js
if (root) pages[root.dataset.meView]?.(root);
