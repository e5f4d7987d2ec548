// The host console: run the show (go live, end), the lineup (add, reorder, start with
// overrides), watch bids arrive and run the chat. Live data comes over the same room channel
// as viewers get; every change goes through the JSON API (api() adds the CSRF header).

import { ApiError, api, el, money, showError } from "/static/app.js";
import { Countdown } from "/static/countdown.js";
import { RoomSocket } from "/static/room-socket.js";
import { CONDITIONS, compact, setText, toMinor } from "/static/room-format.js";
import { mountHostFlash } from "/static/host-flash.js";

const root = document.getElementById("host");
const q = (testid) => root.querySelector(`[data-testid="${testid}"]`);
const byId = (id) => document.getElementById(id);
const roomId = Number(root.dataset.roomId);
const hostId = Number(root.dataset.hostId);
const base = `/api/v1/rooms/${roomId}`;

const S = {
  room: { id: roomId, status: root.dataset.status, slow_mode_seconds: 0 },
  lot: null,               // the current lot, as the channel describes it
  lineup: [],              // GET /rooms/{id}: every lot with its status, position, settings
  titles: new Map(),       // lot id -> title (from the channel's lineup)
  products: new Map(),     // product id -> product (the host's own)
  bidsFor: undefined,      // the lot whose bids the list shows (null: none)
  muted: new Set(),
  banned: new Set(),
  names: new Map(),        // user id -> display name, from bids and leaders seen
};

const D = {
  status: q("host-status"), viewers: q("host-viewers"), likes: q("host-likes"), conn: byId("host-conn"),
  goLive: q("host-go-live"), end: q("host-end"), error: byId("host-error"),
  lotImage: byId("host-lot-image"), lotTitle: q("host-lot-title"), lotMeta: byId("host-lot-meta"),
  price: q("host-price"), leader: q("host-leader"), bidCount: byId("host-bid-count"),
  countdown: q("host-countdown"), outcome: byId("host-outcome"),
  startForm: byId("host-start-form"), duration: q("host-duration"), softClose: q("host-soft-close"),
  reserve: q("host-reserve"), startNext: q("host-start-next"), nextName: byId("host-next-name"),
  bids: q("host-bids"), bidsSummary: byId("host-bids-summary"),
  lineup: q("host-lineup"), addForm: byId("host-add-form"), product: q("host-product"),
  slowMode: q("host-slow-mode"), chat: q("host-chat"), chatForm: byId("host-chat-form"),
  chatInput: q("host-chat-input"),
};

const sock = new RoomSocket(roomId, { snapshot: onSnapshot, event: onEvent, personal: onPersonal, status: onStatus });
const countdown = new Countdown(D.countdown, sock.clock, { onZero: renderLot });
const flash = mountHostFlash(sock.clock, roomId);

function fail(err) {
  showError(D.error, err);
  clearTimeout(fail.timer);
  fail.timer = setTimeout(() => { D.error.hidden = true; }, 8000);
}

async function act(button, fn) {
  if (button) button.disabled = true;
  D.error.hidden = true;
  try {
    return await fn();
  } catch (err) {
    fail(err);
    return null;
  } finally {
    if (button) button.disabled = false;
    renderControls();
  }
}

const titleOf = (lot) => S.titles.get(lot.id) || S.products.get(lot.product_id)?.title || `Product #${lot.product_id}`;
const running = () => S.lot?.status === "running";
const pending = () => S.lineup.filter((l) => l.status === "pending").sort((a, b) => a.position - b.position);

// ---- room status and controls ------------------------------------------------------------------
function renderStatus() {
  const st = S.room.status;
  setText(D.status, { live: "LIVE", scheduled: "Scheduled", ended: "Ended" }[st] || st);
  D.status.className = `badge room-status status-${st}`;
  root.dataset.status = st;
  if (D.slowMode.value !== String(S.room.slow_mode_seconds || 0)) {
    const v = String(S.room.slow_mode_seconds || 0);
    if (![...D.slowMode.options].some((o) => o.value === v)) D.slowMode.append(el("option", { value: v }, `${v} s`));
    D.slowMode.value = v;
  }
  renderControls();
}

function renderControls() {
  const st = S.room.status;
  D.goLive.disabled = st !== "scheduled";
  D.end.disabled = st !== "live";
  D.goLive.hidden = st !== "scheduled";
  D.end.hidden = st === "scheduled";
  const next = pending()[0];
  D.startNext.disabled = st !== "live" || running() || !next;
  setText(D.nextName, st === "ended" ? "The show has ended."
    : !next ? "Add a lot to the lineup to start it."
    : st !== "live" ? `Go live, then start: ${titleOf(next)}.`
    : running() ? `Next up: ${titleOf(next)} (when this lot closes).`
    : `Next up: ${titleOf(next)}.`);
  if (next) {
    D.duration.placeholder = `${next.duration_seconds}`;
    D.softClose.placeholder = `${next.soft_close_seconds}`;
  }
}

// ---- the lot on the block -------------------------------------------------------------------
function renderLot() {
  const lot = S.lot;
  if (!lot) {
    setText(D.lotTitle, "No lot running");
    setText(D.lotMeta, ""); setText(D.price, "—"); setText(D.leader, "—"); setText(D.bidCount, "");
    setText(D.outcome, "");
    D.lotImage.hidden = true;
    countdown.set(null);
    renderControls();
    return;
  }
  const product = lot.product;
  setText(D.lotTitle, product?.title || titleOf(lot));
  const meta = [];
  if (product?.condition) meta.push(CONDITIONS[product.condition] || product.condition);
  meta.push(`from ${money(lot.starting_price, lot.currency)}`);
  if (lot.reserve_price_set) meta.push("reserve set");
  if (lot.soft_close_seconds) meta.push(`soft close ${lot.soft_close_seconds}s`);
  setText(D.lotMeta, meta.join(" · "));
  if (product?.image_url) { if (D.lotImage.getAttribute("src") !== product.image_url) D.lotImage.src = product.image_url; D.lotImage.hidden = false; }
  else D.lotImage.hidden = true;
  renderPrice();
}

function renderPrice() {
  const lot = S.lot;
  if (!lot) return;
  const closed = lot.status === "closed";
  const amount = closed ? (lot.final_price ?? lot.price) : lot.price;
  setText(D.price, money(amount ?? lot.starting_price, lot.currency));
  const who = closed ? (lot.winner || lot.leader) : lot.leader;
  setText(D.leader, who ? who.display_name : "No bids yet");
  const n = lot.bid_count || 0;
  setText(D.bidCount, n ? `· ${n} bid${n === 1 ? "" : "s"}` : "");
  if (closed) {
    const word = { sold: "Sold", unsold: "Unsold", reserve_not_met: "Reserve not met" }[lot.outcome] || "Closed";
    countdown.set(null, word === "Reserve not met" ? "No sale" : word);
    setText(D.outcome, lot.outcome === "sold"
      ? `Sold to ${lot.winner?.display_name || "a bidder"} for ${money(lot.final_price ?? lot.price, lot.currency)}.`
      : lot.outcome === "reserve_not_met" ? "Closed under the reserve: not sold." : "Closed without bids.");
  } else if (lot.status === "running") {
    countdown.set(lot.closes_at);
    setText(D.outcome, countdown.remaining() <= 0 ? "Closing…" : "");
  } else {
    countdown.set(null);
    setText(D.outcome, "");
  }
  renderControls();
}

// ---- bids as they arrive -----------------------------------------------------------------------
const MAX_BIDS = 100;

// A bid row names who leads at that price; when a leader's maximum answered someone else's bid
// automatically, it says so.
function bidRow(price, currency, leader, bidderId, at) {
  const time = new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const auto = bidderId && leader && bidderId !== leader.id;
  return el("li", { class: "host-bid" },
    el("strong", { class: "host-bid-price" }, money(price, currency)),
    el("span", { class: "host-bid-name" }, leader?.display_name || S.names.get(leader?.id) || "—",
      auto ? el("span", { class: "muted small" }, S.names.get(bidderId) ? ` · auto-bid over ${S.names.get(bidderId)}` : " · auto-bid") : null),
    el("span", { class: "muted small" }, time));
}

function addBid(row) {
  D.bids.querySelector(".host-empty")?.remove();
  D.bids.prepend(row);
  while (D.bids.childElementCount > MAX_BIDS) D.bids.lastElementChild.remove();
  setText(D.bidsSummary, S.lot?.bid_count ? `${S.lot.bid_count} on this lot` : "");
}

async function resetBids(lot) {
  if (S.bidsFor === (lot?.id ?? null)) return;
  S.bidsFor = lot?.id ?? null;
  D.bids.replaceChildren(el("li", { class: "muted small host-empty" }, lot ? "No bids yet." : "Bids on the running lot show up here."));
  setText(D.bidsSummary, "");
  if (!lot || !lot.bid_count) return;
  try {
    const after = Math.max(0, lot.bid_count - 50);
    const data = await api("GET", `/api/v1/auctions/${lot.id}/bids?after_seq=${after}&limit=50`);
    if (S.bidsFor !== lot.id) return;
    for (const b of data.bids || []) if (b.bidder?.display_name) S.names.set(b.bidder.id, b.bidder.display_name);
    if (lot.leader) S.names.set(lot.leader.id, lot.leader.display_name);
    const rows = (data.bids || []).map((b) => bidRow(b.price, lot.currency,
      { id: b.leader_id, display_name: S.names.get(b.leader_id) || "another bidder" }, b.bidder?.id, Date.parse(b.at)));
    D.bids.replaceChildren(...rows.reverse());
    if (!rows.length) D.bids.append(el("li", { class: "muted small host-empty" }, "No bids yet."));
    setText(D.bidsSummary, `${lot.bid_count} on this lot`);
  } catch { /* the live ones still arrive */ }
}

// ---- lineup ------------------------------------------------------------------------------------
async function loadLineup() {
  try {
    const data = await api("GET", base);
    S.lineup = data.lineup || [];
    if (data.room) { S.room.status = data.room.status; renderStatus(); }
    await ensureTitles();
    renderLineup();
  } catch (err) { fail(err); }
}
let lineupTimer = null;
function reloadLineupSoon() {
  clearTimeout(lineupTimer);
  lineupTimer = setTimeout(loadLineup, 250);
}

async function ensureTitles() {
  const missing = S.lineup.filter((l) => !S.titles.has(l.id) && !S.products.has(l.product_id));
  await Promise.all([...new Set(missing.map((l) => l.product_id))].slice(0, 20).map(async (id) => {
    try { const d = await api("GET", `/api/v1/products/${id}`); S.products.set(id, d.product); } catch { /* keep the id */ }
  }));
}

function lotStatus(l) {
  if (l.status === "running") return el("span", { class: "badge live" }, "Live");
  if (l.status === "pending") return el("span", { class: "badge warn" }, "Pending");
  const text = { sold: `Sold ${money(l.final_price, l.currency)}`, unsold: "Unsold", reserve_not_met: "Reserve not met" }[l.outcome] || "Closed";
  return el("span", { class: `badge ${l.outcome === "sold" ? "ok" : ""}` }, text);
}

// Running and pending lots in order (with reorder and start controls), then the lots already done.
function renderLineup() {
  const items = [...S.lineup].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  const order = pending();
  const live = S.room.status === "live" && !running();
  const row = (l, label) => {
    const i = order.indexOf(l);
    const prices = [`from ${money(l.starting_price, l.currency)}`];
    if (l.reserve_price_set) prices.push("reserve");
    if (l.buy_now_price) prices.push(`buy now ${money(l.buy_now_price, l.currency)}`);
    if (l.final_sale) prices.push("final sale");
    prices.push(`${l.duration_seconds}s`);
    const stock = S.products.get(l.product_id)?.stock;
    if (l.status === "pending" && stock === 0) prices.push("no stock left: restock it or move it down");
    const side = l.status !== "pending" ? lotStatus(l) : el("span", { class: "host-lineup-actions" },
      el("button", { type: "button", class: "small secondary", "aria-label": "Move up", title: "Move up", disabled: i === 0,
        dataset: { move: "-1", id: String(l.id) } }, "↑"),
      el("button", { type: "button", class: "small secondary", "aria-label": "Move down", title: "Move down", disabled: i === order.length - 1,
        dataset: { move: "1", id: String(l.id) } }, "↓"),
      el("button", { type: "button", class: "small", disabled: !live, title: "Start this lot now", dataset: { start: String(l.id) } }, "Start"));
    return el("li", { class: `host-lineup-item is-${l.status}`, dataset: { id: String(l.id) } },
      el("span", { class: "host-lineup-pos muted" }, label),
      el("span", { class: "host-lineup-text" },
        el("strong", {}, titleOf(l)),
        el("span", { class: "muted small" }, prices.join(" · "))),
      side);
  };
  const upcoming = items.filter((l) => l.status === "running" || l.status === "pending");
  const done = items.filter((l) => l.status === "closed");
  const nodes = upcoming.map((l) => row(l, l.status === "running" ? "▶" : String(order.indexOf(l) + 1)));
  if (!upcoming.length) nodes.push(el("li", { class: "muted small" }, "Nothing lined up — add a lot below."));
  if (done.length) {
    nodes.push(el("li", { class: "host-lineup-sep muted small" }, `Done (${done.length})`));
    nodes.push(...done.reverse().map((l) => row(l, "✓")));
  }
  D.lineup.replaceChildren(...nodes);
  renderControls();
}

async function move(lotId, delta) {
  const ids = pending().map((l) => l.id);
  const i = ids.indexOf(lotId), j = i + delta;
  if (i < 0 || j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  const data = await api("PUT", `${base}/lineup`, { lot_ids: ids });
  S.lineup = data.lineup || S.lineup;
  renderLineup();
}

D.lineup.addEventListener("click", (e) => {
  const button = e.target.closest("button");
  if (!button) return;
  if (button.dataset.move) act(button, () => move(Number(button.dataset.id), Number(button.dataset.move)));
  else if (button.dataset.start) act(button, () => startNext(Number(button.dataset.start)));
});

// ---- starting lots -----------------------------------------------------------------------------
function startOverrides() {
  const body = {};
  const d = D.duration.value.trim(), s = D.softClose.value.trim(), r = D.reserve.value.trim();
  if (d) body.duration_seconds = Number.parseInt(d, 10);
  if (s) body.soft_close_seconds = Number.parseInt(s, 10);
  if (r) {
    const cur = pending()[0]?.currency || "EUR";
    const v = toMinor(r, cur);
    if (!v) throw new ApiError(422, "validation_failed", "The reserve is an amount, like 50 or 49.90.");
    body.reserve_price = v;
  }
  return body;
}

async function startNext(lotId) {
  const body = startOverrides();
  if (lotId) body.lot_id = lotId;
  const data = await api("POST", `${base}/lots/start-next`, body);
  D.reserve.value = "";
  const lot = data.lot;
  const item = S.lineup.find((l) => l.id === lot.id);
  if (item) Object.assign(item, lot); else S.lineup.push(lot);
  renderLineup();
}

D.startForm.addEventListener("submit", (e) => {
  e.preventDefault();
  act(D.startNext, () => startNext(null));
});

D.goLive.addEventListener("click", () => act(D.goLive, async () => {
  const data = await api("POST", `${base}/go-live`);
  S.room.status = data.room.status; renderStatus(); renderLineup();
}));
D.end.addEventListener("click", () => act(D.end, async () => {
  const data = await api("POST", `${base}/end`);
  S.room.status = data.room.status; renderStatus(); renderLineup();
}));

// ---- adding lots from the host's products ---------------------------------------------------
async function loadProducts() {
  try {
    const mine = await api("GET", "/api/v1/shops/mine");
    if (!mine.shop) {
      D.product.replaceChildren(el("option", { value: "" }, "You have no shop yet — open one in the seller center"));
      D.product.disabled = true;
      return;
    }
    if (mine.shop.status !== "approved") {
      D.product.replaceChildren(el("option", { value: "" }, `Your shop is ${mine.shop.status}; lots need an approved shop`));
      D.product.disabled = true;
      return;
    }
    const data = await api("GET", `/api/v1/products?shop_id=${mine.shop.id}&limit=200`);
    const products = data.products || [];
    const keep = D.product.value;
    for (const p of products) S.products.set(p.id, p);
    D.product.replaceChildren(el("option", { value: "" }, products.length ? "Choose a product…" : "No active products — add some in the seller center"),
      ...products.map((p) => el("option", { value: String(p.id), disabled: p.stock < 1 },
        `${p.title} · ${money(p.price.amount, p.price.currency)} · ${p.stock < 1 ? "out of stock" : `${p.stock} in stock`}`)));
    if (keep && products.some((p) => String(p.id) === keep)) D.product.value = keep;
    renderLineup();
  } catch (err) {
    D.product.replaceChildren(el("option", { value: "" }, "Could not load your products"));
    fail(err);
  }
}

let productsTimer = null;
function refreshProductsSoon() {
  clearTimeout(productsTimer);
  productsTimer = setTimeout(loadProducts, 500);
}

D.product.addEventListener("change", () => {
  const p = S.products.get(Number(D.product.value));
  const start = D.addForm.elements.starting_price;
  if (p && !start.value) start.value = String(Math.max(1, Math.round(p.price.amount / 10)) / 100);
});

D.addForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const error = D.addForm.querySelector(".error");
  error.hidden = true;
  const f = D.addForm.elements;
  const p = S.products.get(Number(f.product_id.value));
  const cur = p?.price.currency || "EUR";
  const body = { product_id: Number(f.product_id.value), starting_price: toMinor(f.starting_price.value, cur) };
  for (const key of ["reserve_price", "buy_now_price"]) {
    if (f[key].value.trim()) body[key] = toMinor(f[key].value, cur);
  }
  for (const key of ["duration_seconds", "soft_close_seconds"]) {
    if (f[key].value.trim()) body[key] = Number.parseInt(f[key].value, 10);
  }
  if (f.final_sale?.checked) body.final_sale = true;  // bidders see "Final sale — no returns"
  const submit = D.addForm.querySelector("[type=submit]");
  act(submit, async () => {
    try {
      const data = await api("POST", `${base}/lots`, body);
      if (p) S.titles.set(data.lot.id, p.title);
      S.lineup.push(data.lot);
      renderLineup();
      for (const key of ["starting_price", "reserve_price", "buy_now_price", "duration_seconds", "soft_close_seconds"]) f[key].value = "";
      f.product_id.value = "";
      if (f.final_sale) f.final_sale.checked = false;
    } catch (err) {
      showError(error, err);
    }
  });
});

// ---- chat moderation -----------------------------------------------------------------------
const chatNodes = new Map();
const MAX_CHAT = 200;

function chatNode(m) {
  const isHost = m.user?.id === hostId;
  const uid = m.user?.id;
  const actions = el("span", { class: "host-chat-actions" },
    el("button", { type: "button", class: "small secondary", dataset: { del: String(m.id) }, title: "Delete this message" }, "Delete"),
    isHost ? null : el("button", { type: "button", class: "small secondary", dataset: { mod: S.muted.has(uid) ? "unmute" : "mute", user: String(uid) } },
      S.muted.has(uid) ? "Unmute" : "Mute"),
    isHost ? null : el("button", { type: "button", class: "small secondary host-danger", dataset: { mod: S.banned.has(uid) ? "unban" : "ban", user: String(uid) } },
      S.banned.has(uid) ? "Unban" : "Ban"));
  return el("li", { class: `room-chat-msg host-chat-msg${isHost ? " is-host" : ""}`, dataset: { id: String(m.id), user: String(uid) } },
    el("span", { class: "host-chat-line" },
      el("span", { class: "room-chat-name" }, m.user?.display_name || "Someone"),
      isHost ? el("span", { class: "badge live room-host-badge" }, "Host") : null,
      " ",
      el("span", { class: "room-chat-text" }, m.text)),
    actions);
}

function addChat(m) {
  if (chatNodes.has(m.id)) return;
  D.chat.querySelector(".host-empty")?.remove();
  const stick = D.chat.scrollHeight - D.chat.scrollTop - D.chat.clientHeight < 60;
  const node = chatNode(m);
  chatNodes.set(m.id, node);
  D.chat.append(node);
  while (D.chat.childElementCount > MAX_CHAT) {
    const first = D.chat.firstElementChild;
    chatNodes.delete(Number(first.dataset.id));
    first.remove();
  }
  if (stick) D.chat.scrollTop = D.chat.scrollHeight;
}

function resetChat(messages) {
  chatNodes.clear();
  D.chat.replaceChildren();
  for (const m of messages || []) addChat(m);
  if (!messages?.length) D.chat.append(el("li", { class: "muted small host-empty" }, "No messages yet."));
  D.chat.scrollTop = D.chat.scrollHeight;
}

function refreshModButtons(userId) {
  for (const node of D.chat.querySelectorAll(`li[data-user="${userId}"]`)) {
    const mute = node.querySelector('[data-mod="mute"], [data-mod="unmute"]');
    const ban = node.querySelector('[data-mod="ban"], [data-mod="unban"]');
    if (mute) { mute.dataset.mod = S.muted.has(userId) ? "unmute" : "mute"; setText(mute, S.muted.has(userId) ? "Unmute" : "Mute"); }
    if (ban) { ban.dataset.mod = S.banned.has(userId) ? "unban" : "ban"; setText(ban, S.banned.has(userId) ? "Unban" : "Ban"); }
  }
}

D.chat.addEventListener("click", (e) => {
  const button = e.target.closest("button");
  if (!button) return;
  if (button.dataset.del) {
    act(button, () => api("DELETE", `${base}/chat/${button.dataset.del}`));
  } else if (button.dataset.mod) {
    const userId = Number(button.dataset.user), action = button.dataset.mod;
    act(button, async () => {
      await api("POST", `${base}/moderation`, { user_id: userId, action });
      if (action === "mute") S.muted.add(userId);
      if (action === "unmute") S.muted.delete(userId);
      if (action === "ban") { S.banned.add(userId); S.muted.delete(userId); }
      if (action === "unban") S.banned.delete(userId);
      refreshModButtons(userId);
    });
  }
});

D.slowMode.addEventListener("change", () => act(D.slowMode, async () => {
  const seconds = Number(D.slowMode.value);
  await api("PUT", `${base}/slow-mode`, { seconds });
  S.room.slow_mode_seconds = seconds;
}));

D.chatForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = D.chatInput.value.trim();
  if (!text) return;
  D.chatInput.value = "";
  if (!sock.send({ type: "chat", text })) {
    api("POST", `${base}/chat`, { text }).catch((err) => { D.chatInput.value = text; fail(err); });
  }
});

// ---- the channel ---------------------------------------------------------------------------
function onSnapshot(msg) {
  const d = msg.data || {};
  S.room = { ...S.room, ...(d.room || {}) };
  S.lot = d.lot || null;
  for (const l of d.lineup || []) if (l.title) S.titles.set(l.id, l.title);
  setText(D.viewers, compact(d.viewers || 0));
  setText(D.likes, compact(d.likes || 0));
  renderStatus(); renderLot(); renderLineup();
  resetBids(S.lot);
  resetChat(d.chat);
  flash.snapshot(d.flash);
}

function onEvent(msg) {
  const d = msg.data || {};
  const lot = S.lot;
  const same = lot && lot.id === d.auction_id;
  switch (msg.type) {
    case "lot.started":
      refreshProductsSoon();
      S.lot = d.lot;
      if (d.lot.product?.title) S.titles.set(d.lot.id, d.lot.product.title);
      renderLot(); resetBids(S.lot);
      reloadLineupSoon();
      break;
    case "bid.accepted":
      if (!same) break;
      Object.assign(lot, { price: d.price, min_next_bid: d.min_next_bid, leader: d.leader, closes_at: d.closes_at, bid_count: d.bid_count });
      renderPrice();
      if (d.leader) S.names.set(d.leader.id, d.leader.display_name);
      addBid(bidRow(d.price, lot.currency, d.leader, d.bidder_id, msg.ts));
      break;
    case "auction.extended":
      if (same) { lot.closes_at = d.closes_at; renderPrice(); }
      break;
    case "auction.closed":
      if (same) {
        Object.assign(lot, { status: "closed", outcome: d.outcome, winner: d.winner, final_price: d.price });
        renderPrice();
      }
      reloadLineupSoon();
      break;
    case "chat.message":
      addChat(d);
      break;
    case "chat.deleted":
      chatNodes.get(d.id)?.remove(); chatNodes.delete(d.id);
      break;
    case "likes":
      setText(D.likes, compact(d.total));
      break;
    case "viewers":
      setText(D.viewers, compact(d.count));
      break;
    case "flash.started":
    case "flash.stock":
    case "flash.ended":
      flash.event(msg.type, d);
      break;
    case "room.updated":
      Object.assign(S.room, d);
      renderStatus();
      if (d.status) renderLineup();
      break;
    default:
      break;
  }
}

function onPersonal(msg) {
  if (msg.type === "error") fail(new ApiError(400, msg.data?.code, msg.data?.message || "Something went wrong."));
}

function onStatus(state, detail) {
  setText(D.conn, state === "live" ? "● connected" : state === "closed" ? (detail?.message || "disconnected") : "reconnecting…");
  D.conn.dataset.state = state;
}

renderStatus(); renderLot();
resetBids(null);
loadLineup().then(loadProducts);
sock.connect();
