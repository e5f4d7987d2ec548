// The live room: stream, current lot, bidding, chat, likes and the lineup, driven by the room
// channel (docs/protocol.md). The DOM is built once by the template; events update text nodes.
// User text (names, chat, titles) only ever goes in as text: el() and textContent, never HTML.

import { ApiError, api, el, money, uuid } from "/static/app.js";
import { Countdown } from "/static/countdown.js";
import { RoomSocket } from "/static/room-socket.js";
import { startVideo } from "/static/room-video.js";
import { CONDITIONS, compact, setText, toMinor, toMajorText } from "/static/room-format.js";
import { mountRoomFlash } from "/static/room-flash.js";

const root = document.getElementById("room");
const q = (testid) => root.querySelector(`[data-testid="${testid}"]`);
const byId = (id) => document.getElementById(id);

const roomId = Number(root.dataset.roomId);
const hostId = Number(root.dataset.hostId);
let me = root.dataset.meId ? { id: Number(root.dataset.meId), display_name: root.dataset.meName } : null;

const S = {
  room: { id: roomId, status: root.dataset.status, host_id: hostId, slow_mode_seconds: 0 },
  lot: null,
  lineup: [],
  likes: 0,
  viewers: 0,
  myLots: new Set(),      // lots this viewer has bid on (so "Outbid" / "You lost" make sense)
  myMax: new Map(),       // lot id -> the maximum this viewer set there (only they know it)
  checkedLots: new Set(), // lots whose bid history we already looked at after a (re)load
  pending: null,          // the bid in flight: {key, msg, via, timer}
  muted: false,
  lastChat: "",
  connected: false,
};

// ---- DOM references -----------------------------------------------------------------------
const D = {
  stage: byId("room-stage"), video: byId("room-video"), unmute: byId("room-unmute"),
  conn: byId("room-conn"), ticker: byId("room-ticker"),
  status: q("room-status"), viewers: q("viewer-count"),
  likeButton: q("like-button"), likes: q("like-count"),
  lotImage: byId("lot-image"), lotKicker: byId("lot-kicker"), lotTitle: q("lot-title"), lotMeta: byId("lot-meta"),
  priceLabel: byId("price-label"), price: q("room-price"), leader: q("room-leader"),
  leaderPrefix: byId("leader-prefix"), bidCount: byId("bid-count"),
  countdown: q("room-countdown"), countdownLabel: byId("countdown-label"),
  stateBox: byId("room-state-box"), state: q("room-state"), stateDetail: byId("room-state-detail"),
  won: byId("room-won"), wonLink: byId("won-link"), wonOrder: byId("won-order"), wonDismiss: byId("won-dismiss"),
  bidNext: q("bid-next"), customForm: byId("bid-custom-form"), customInput: q("bid-custom-input"),
  customButton: q("bid-custom"), maxForm: byId("bid-max-form"), maxInput: q("bid-max-input"),
  maxButton: q("bid-max"), notice: q("notice"),
  chatList: q("chat-list"), chatForm: byId("chat-form"), chatInput: q("chat-input"), chatSend: q("chat-send"),
  slowMode: byId("slow-mode"),
  lineup: q("lineup"), lineupSummary: byId("lineup-summary"),
};
const currencySigns = root.querySelectorAll(".room-cur");

const sock = new RoomSocket(roomId, {
  snapshot: onSnapshot, event: onEvent, personal: onPersonal, status: onStatus,
});
const countdown = new Countdown(D.countdown, sock.clock, { onZero: renderState });
const flash = mountRoomFlash(sock.clock);

// ---- helpers ------------------------------------------------------------------------------
const isMe = (user) => Boolean(me && user && user.id === me.id);
const currency = () => S.lot?.currency || "EUR";
const running = () => S.lot?.status === "running";

function notice(text, tone = "info") {
  setText(D.notice, text);
  D.notice.dataset.tone = tone;
}

function pulse(node) {
  node.animate?.([{ transform: "scale(1.12)" }, { transform: "scale(1)" }], { duration: 320, easing: "ease-out" });
}

// ---- the current lot ----------------------------------------------------------------------
function nextUp() {
  return [...S.lineup].filter((l) => l.status === "pending").sort((a, b) => (a.position ?? 0) - (b.position ?? 0))[0] || null;
}

function renderLot() {
  const lot = S.lot;
  const product = lot?.product;
  // Between lots, the card previews the next lot of the lineup.
  const preview = lot ? null : nextUp();
  const image = product?.image_url || (lot && S.lineup.find((l) => l.id === lot.id)?.image_url) || preview?.image_url;
  if (image) { if (D.lotImage.getAttribute("src") !== image) D.lotImage.src = image; D.lotImage.hidden = false; }
  else D.lotImage.hidden = true;
  setText(D.lotTitle, product?.title || (lot ? `Lot ${lot.position ?? ""}`.trim() : preview?.title || waitingTitle()));
  const idx = lot ? S.lineup.findIndex((l) => l.id === lot.id) : -1;
  setText(D.lotKicker, lot ? (idx >= 0 ? `Lot ${idx + 1} of ${S.lineup.length}` : "Current lot")
    : preview ? "Up next" : "No lot on the block");
  const meta = [];
  if (product?.condition) meta.push(CONDITIONS[product.condition] || product.condition);
  if (lot) meta.push(`Starts at ${money(lot.starting_price, lot.currency)}`);
  else if (preview) meta.push(`Starts at ${money(preview.starting_price, preview.currency)}`);
  if (lot?.reserve_price_set) meta.push("Reserve price");
  if (lot?.format === "sudden_death") meta.push("Sudden death: no extensions");
  else if (lot?.soft_close_seconds) meta.push(`Late bids add ${lot.soft_close_seconds}s`);
  setText(D.lotMeta, meta.join(" · "));
  const finalSale = byId("lot-final-sale");  // shown before anyone bids: such a lot cannot be returned
  if (finalSale) finalSale.hidden = !(lot ? lot.final_sale : preview?.final_sale);
  for (const node of currencySigns) setText(node, currencySign(currency()));
  renderPrice();
}

function waitingTitle() {
  if (S.room.status === "ended") return "This show has ended";
  if (S.room.status === "scheduled") return "The show starts soon";
  return "Nothing on the block yet";
}

function currencySign(cur) {
  return { EUR: "€", USD: "$", GBP: "£" }[cur] || cur;
}

function renderPrice() {
  const lot = S.lot;
  if (!lot) {
    const preview = nextUp();
    setText(D.priceLabel, preview ? "Starting price" : "Current bid");
    setText(D.price, preview ? money(preview.starting_price, preview.currency) : "—");
    setText(D.leaderPrefix, "Leader:"); setText(D.leader, "—"); setText(D.bidCount, "");
    setText(D.countdownLabel, "Time left");
    countdown.set(null, preview && S.room.status === "live" ? "Soon" : null);
  } else {
    const closed = lot.status === "closed";
    const hasBids = lot.price !== null && lot.price !== undefined;
    const amount = closed ? (lot.final_price ?? lot.price ?? lot.starting_price) : (hasBids ? lot.price : lot.starting_price);
    setText(D.priceLabel, closed ? (lot.outcome === "sold" ? "Sold for" : "Final bid")
      : hasBids ? "Current bid" : "Starting price");
    setText(D.price, money(amount, lot.currency));
    const leader = closed ? (lot.winner || lot.leader) : lot.leader;
    setText(D.leaderPrefix, closed && lot.outcome === "sold" ? "Winner:" : "Leader:");
    setText(D.leader, leader ? (isMe(leader) ? `You (${leader.display_name})` : leader.display_name) : "No bids yet");
    const n = lot.bid_count || 0;
    setText(D.bidCount, n ? `· ${n} bid${n === 1 ? "" : "s"}` : "");
    setText(D.countdownLabel, closed ? "Result" : "Time left");
    if (closed) {
      countdown.set(null, { sold: "Sold", unsold: "Unsold", reserve_not_met: "No sale" }[lot.outcome] || "Closed");
    } else if (lot.status === "running") countdown.set(lot.closes_at);
    else countdown.set(null, "Soon");
  }
  renderBidControls();
  renderState();
}

function renderBidControls() {
  if (!D.bidNext) return;
  const lot = S.lot;
  const open = running() && countdown.remaining() > 0;
  const leading = open && isMe(lot.leader);
  const busy = S.pending !== null;
  if (!lot || lot.status !== "running") setText(D.bidNext, lot ? "Bidding closed" : "Waiting for a lot");
  else if (leading) setText(D.bidNext, "You're the highest bidder");
  else setText(D.bidNext, `Bid ${money(lot.min_next_bid, lot.currency)}`);
  D.bidNext.disabled = !open || leading || busy;
  D.customButton.disabled = !open || leading || busy;
  D.customInput.disabled = !open || leading;
  D.maxButton.disabled = !open || busy;
  D.maxInput.disabled = !open;
  if (lot && lot.min_next_bid) {
    const hint = toMajorText(lot.min_next_bid, lot.currency);
    const ph = `${hint} or more`;
    if (D.customInput.placeholder !== ph) D.customInput.placeholder = ph;
    const mph = leading ? "Raise your max" : "Max you'd pay";
    if (D.maxInput.placeholder !== mph) D.maxInput.placeholder = mph;
  }
  D.bidNext.classList.toggle("is-leading", leading);
}

// The signed-in viewer's standing, in a word (data-testid=room-state) and a detail line.
function viewerState() {
  const lot = S.lot;
  const status = S.room.status;
  if (!lot) {
    if (status === "ended") return ["ended", "Show ended", "Thanks for watching."];
    if (status === "scheduled") return ["waiting", "Starting soon", "Bidding opens when the host starts the first lot."];
    if (!nextUp()) return ["waiting", "Waiting for the host", "Nothing else is lined up yet."];
    return ["waiting", "Waiting for the next lot", "Bidding opens when the host starts it."];
  }
  const cur = lot.currency;
  if (lot.status === "closed") {
    const price = money(lot.final_price ?? lot.price, cur);
    if (lot.outcome === "sold") {
      if (isMe(lot.winner)) return ["won", "You won", `for ${price}.`];
      if (S.myLots.has(lot.id)) return ["lost", "You lost", `Sold to ${lot.winner?.display_name || "another bidder"} for ${price}.`];
      return ["closed", "Sold", `Sold to ${lot.winner?.display_name || "a bidder"} for ${price}.`];
    }
    if (lot.outcome === "reserve_not_met") return ["closed", "Reserve not met", "The highest bid stayed under the seller's reserve; not sold."];
    return ["closed", "Unsold", "Nobody bid on this lot."];
  }
  if (lot.status !== "running") return ["waiting", "Up next", "Bidding opens in a moment."];
  if (countdown.remaining() <= 0) return ["closing", "Closing…", "Counting the last bids."];
  const next = money(lot.min_next_bid, cur);
  if (!me) return ["open", lot.leader ? "Bidding open" : "No bids yet", `Next bid ${next}. Log in to bid.`];
  if (S.room.host_id === me.id) return ["open", "Bidding open", "Viewers are bidding on your lot."];
  if (isMe(lot.leader)) {
    const max = S.myMax.get(lot.id);
    return ["leading", "You're leading", max ? `Your maximum of ${money(max, cur)} keeps bidding for you.`
      : `At ${money(lot.price, cur)}. Set a maximum to stay ahead.`];
  }
  if (S.myLots.has(lot.id)) return ["outbid", "Outbid", `Bid ${next} to take the lead.`];
  return ["open", lot.leader ? "Bidding open" : "No bids yet", `Next bid ${next}.`];
}

function renderState() {
  const [kind, word, detail] = viewerState();
  if (D.stateBox.dataset.state !== kind) D.stateBox.dataset.state = kind;
  setText(D.state, word);
  setText(D.stateDetail, detail);
  renderBidControls();
}

function showWin(lotTitle, orderId, price, cur) {
  D.won.hidden = false;
  const parts = [];
  if (lotTitle) parts.push(lotTitle);
  if (price) parts.push(money(price, cur || currency()));
  parts.push(orderId ? `order #${orderId}` : "your order is waiting in My orders");
  setText(D.wonOrder, parts.join(" · "));
  setText(D.wonLink, orderId ? `Pay order #${orderId}` : "Pay now");
  D.wonLink.href = orderId ? `/me/orders#order-${orderId}` : "/me/orders";
  if (orderId) D.wonLink.dataset.orderId = String(orderId);
}

// When a viewer (re)loads mid-lot, find out whether they already bid on it.
async function checkMyBids(lot) {
  if (!me || !lot || lot.status !== "running" || S.checkedLots.has(lot.id) || !lot.bid_count) return;
  S.checkedLots.add(lot.id);
  try {
    const data = await api("GET", `/api/v1/auctions/${lot.id}/bids?limit=1000`);
    if ((data.bids || []).some((b) => b.bidder?.id === me.id)) {
      S.myLots.add(lot.id);
      renderState();
    }
  } catch { /* only a nicety */ }
}

// ---- bidding ------------------------------------------------------------------------------
function placeBid(kind, value) {
  const lot = S.lot;
  if (!me) { window.location.assign(`/login?next=/rooms/${roomId}`); return; }
  if (!lot || !running()) { notice("There is no lot open for bids right now.", "bad"); return; }
  if (S.pending) return;
  if (!Number.isInteger(value) || value < 1) {
    notice("Enter an amount, like 25 or 25.50.", "bad"); return;
  }
  const leading = isMe(lot.leader);
  if (value < lot.min_next_bid && !(kind === "max" && leading)) {
    notice(`The next bid must be at least ${money(lot.min_next_bid, lot.currency)}.`, "bad"); return;
  }
  const key = uuid();
  const field = kind === "max" ? "max_amount" : "amount";
  const msg = { type: "bid", auction_id: lot.id, idempotency_key: key, [field]: value };
  S.pending = { key, msg, kind, value, via: "ws" };
  S.pending.timer = setTimeout(() => bidTimedOut(key), 10_000);
  notice(kind === "max" ? `Setting your maximum to ${money(value, lot.currency)}…` : `Bidding ${money(value, lot.currency)}…`);
  renderBidControls();
  if (!sock.send(msg)) bidOverHttp(lot, field, value, key);
}

async function bidOverHttp(lot, field, value, key) {
  S.pending.via = "http";
  try {
    const res = await api("POST", `/api/v1/auctions/${lot.id}/bids`, { [field]: value, idempotency_key: key });
    bidAnswered(key, { ok: true, leading: res.leading, price: res.price, auction_id: lot.id, auction_seq: res.seq,
      closes_at: res.closes_at ? Date.parse(res.closes_at) : null });
  } catch (err) {
    const e = err instanceof ApiError ? err.body?.error || {} : {};
    bidAnswered(key, { ok: false, code: e.code || "error", message: err.message, min_next_bid: e.min_next_bid, auction_id: lot.id });
  }
}

function bidTimedOut(key) {
  if (S.pending?.key !== key) return;
  S.pending = null;
  notice("No answer from the auction yet — check the price before bidding again.", "bad");
  renderBidControls();
}

function bidAnswered(key, r) {
  if (!S.pending || S.pending.key !== key) return;
  const { kind, value } = S.pending;
  clearTimeout(S.pending.timer);
  S.pending = null;
  const cur = currency();
  if (r.ok) {
    S.myLots.add(r.auction_id);
    if (kind === "max") S.myMax.set(r.auction_id, value);
    const lot = S.lot;
    // The ack can arrive before the room's bid.accepted: show the lead at once unless the lot
    // has already moved past this bid.
    if (r.leading && lot && lot.id === r.auction_id && lot.status === "running" && r.auction_seq > (lot.bid_count || 0)) {
      Object.assign(lot, { leader: me, price: r.price, bid_count: r.auction_seq });
      if (r.closes_at) lot.closes_at = r.closes_at;
      renderPrice();
    }
    if (r.leading) {
      notice(kind === "max" ? `Maximum set: we'll bid for you up to ${money(value, cur)}. You're leading at ${money(r.price, cur)}.`
        : `Bid placed — you're leading at ${money(r.price, cur)}.`, "good");
      if (D.customInput) D.customInput.value = "";
      if (kind === "max" && D.maxInput) D.maxInput.value = "";
    } else {
      notice(`Your bid went in, but another bidder's maximum is higher (now ${money(r.price, cur)}).`, "bad");
    }
  } else {
    const lot = S.lot;
    if (r.min_next_bid && lot && lot.id === r.auction_id && lot.status === "running" && r.min_next_bid > lot.min_next_bid) {
      lot.min_next_bid = r.min_next_bid;
    }
    const friendly = {
      too_low: r.min_next_bid ? `Someone got there first — the next bid is ${money(r.min_next_bid, cur)}.` : null,
      self_outbid: "You're already the highest bidder. Set a maximum to bid higher automatically.",
      max_not_higher: "Your new maximum must be higher than your current one.",
      auction_closed: "Too late — this lot has closed.",
      own_lot: "You can't bid on your own lot.",
    }[r.code];
    notice(friendly || r.message || "Your bid was not accepted.", "bad");
  }
  renderState();
}

// ---- chat ---------------------------------------------------------------------------------
const chatNodes = new Map();     // message id -> <li> in the list
const tickerNodes = new Map();   // message id -> <li> over the video (phones)
const MAX_CHAT = 150;
const MAX_TICKER = 3;

function chatNode(m) {
  const host = m.user?.id === hostId;
  const cls = `room-chat-msg${host ? " is-host" : ""}${isMe(m.user) ? " is-mine" : ""}`;
  return el("li", { class: cls, dataset: { id: String(m.id) } },
    el("span", { class: "room-chat-name" }, m.user?.display_name || "Someone"),
    host ? el("span", { class: "badge live room-host-badge" }, "Host") : null,
    " ",
    el("span", { class: "room-chat-text" }, m.text));
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

// Appends a batch of messages with one layout read and one scroll (a busy chat is many a second).
function addChats(messages, { scroll = true } = {}) {
  const fresh = messages.filter((m) => !chatNodes.has(m.id));
  if (!fresh.length) return;
  const stick = nearBottom(D.chatList);
  const frag = document.createDocumentFragment();
  for (const m of fresh) {
    const node = chatNode(m);
    chatNodes.set(m.id, node);
    frag.append(node);
  }
  D.chatList.querySelector(".room-chat-empty")?.remove();
  D.chatList.append(frag);
  while (D.chatList.childElementCount > MAX_CHAT) {
    const first = D.chatList.firstElementChild;
    chatNodes.delete(Number(first.dataset.id));
    first.remove();
  }
  if (scroll && stick) D.chatList.scrollTop = D.chatList.scrollHeight;
  for (const m of fresh.slice(-MAX_TICKER)) {
    const tick = chatNode(m);
    tickerNodes.set(m.id, tick);
    D.ticker.append(tick);
  }
  while (D.ticker.childElementCount > MAX_TICKER) {
    const first = D.ticker.firstElementChild;
    tickerNodes.delete(Number(first.dataset.id));
    first.remove();
  }
}

function removeChat(id) {
  frame.chat = frame.chat.filter((m) => m.id !== id);
  chatNodes.get(id)?.remove(); chatNodes.delete(id);
  tickerNodes.get(id)?.remove(); tickerNodes.delete(id);
}

function resetChat(messages) {
  chatNodes.clear(); tickerNodes.clear();
  D.chatList.replaceChildren(); D.ticker.replaceChildren();
  frame.chat = [];
  addChats(messages || [], { scroll: false });
  if (!messages?.length) D.chatList.append(el("li", { class: "room-chat-empty muted small" }, "No messages yet — say hi!"));
  D.chatList.scrollTop = D.chatList.scrollHeight;
}

async function sendChat(text) {
  S.lastChat = text;
  if (sock.send({ type: "chat", text })) return;
  try {
    await api("POST", `/api/v1/rooms/${roomId}/chat`, { text });
  } catch (err) {
    chatFailed(err instanceof ApiError ? err.code : "error", err.message);
  }
}

function chatFailed(code, message) {
  if (code === "muted") setMuted(true);
  if (D.chatInput && !D.chatInput.value && S.lastChat && code !== "muted") D.chatInput.value = S.lastChat;
  notice(message || "Your message was not sent.", "bad");
}

function setMuted(muted) {
  S.muted = muted;
  if (!D.chatInput) return;
  D.chatInput.disabled = muted;
  D.chatSend.disabled = muted;
  D.chatInput.placeholder = muted ? "The host muted you in this room" : "Say something nice…";
}

function renderSlowMode() {
  const s = S.room.slow_mode_seconds || 0;
  D.slowMode.hidden = !s;
  setText(D.slowMode, s ? `Slow mode · ${s}s` : "");
}

// ---- lineup, room status, counters ----------------------------------------------------------
function renderLineup() {
  const items = [...S.lineup].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  const upcoming = items.filter((l) => l.status === "running" || l.status === "pending");
  const done = items.length - upcoming.length;
  let nextMarked = false;
  D.lineup.replaceChildren(...upcoming.map((l) => {
    let badge;
    if (l.status === "running") badge = el("span", { class: "badge live" }, "Live now");
    else if (!nextMarked) { nextMarked = true; badge = el("span", { class: "badge warn" }, "Next"); }
    else badge = el("span", { class: "badge" }, `#${items.indexOf(l) + 1}`);
    return el("li", { class: `room-lineup-item${l.status === "running" ? " is-live" : ""}`, dataset: { id: String(l.id) } },
      l.image_url ? el("img", { src: l.image_url, alt: "", loading: "lazy" }) : el("span", { class: "room-lineup-thumb" }),
      el("span", { class: "room-lineup-text" },
        el("span", { class: "room-lineup-title" }, l.title || `Lot ${l.position}`),
        el("span", { class: "muted small" }, `from ${money(l.starting_price, l.currency)}`)),
      badge);
  }));
  if (!upcoming.length) D.lineup.append(el("li", { class: "muted small room-lineup-empty" },
    S.room.status === "ended" ? "The show is over." : "Nothing else lined up yet."));
  const left = upcoming.filter((l) => l.status === "pending").length;
  setText(D.lineupSummary, `${left} to go${done ? ` · ${done} done` : ""}`);
}

function renderRoomStatus() {
  const st = S.room.status;
  setText(D.status, { live: "LIVE", scheduled: "Starting soon", ended: "Ended" }[st] || st);
  D.status.className = `badge room-status status-${st}`;
  root.dataset.status = st;
}

function renderCounts() {
  setText(D.viewers, compact(S.viewers));
  setText(D.likes, compact(S.likes));
}

// ---- batching: bursts of bids and chat are drawn once per frame --------------------------------
const frame = { id: 0, price: false, pulse: false, chat: [] };

function schedule() {
  if (!frame.id) frame.id = requestAnimationFrame(flush);
}

function flush() {
  frame.id = 0;
  if (frame.price) { frame.price = false; renderPrice(); }
  if (frame.pulse) { frame.pulse = false; pulse(D.price); }
  if (frame.chat.length) { const batch = frame.chat; frame.chat = []; addChats(batch); }
}

// ---- the channel ----------------------------------------------------------------------------
function onSnapshot(msg) {
  const d = msg.data || {};
  S.room = { ...S.room, ...(d.room || {}) };
  S.lot = d.lot || null;
  S.lineup = d.lineup || [];
  S.likes = d.likes || 0;
  S.viewers = d.viewers || 0;
  if (S.lot && isMe(S.lot.leader)) S.myLots.add(S.lot.id);
  renderRoomStatus(); renderSlowMode(); renderCounts(); renderLineup(); renderLot();
  resetChat(d.chat);
  if (S.lot?.status === "closed" && isMe(S.lot.winner)) showWin(S.lot.product?.title, null, S.lot.final_price, S.lot.currency);
  checkMyBids(S.lot);
  flash.snapshot(d.flash);
}

function onEvent(msg) {
  const d = msg.data || {};
  const lot = S.lot;
  const same = lot && lot.id === d.auction_id;
  switch (msg.type) {
    case "lot.started": {
      S.lot = d.lot;
      const item = S.lineup.find((l) => l.id === d.lot.id);
      if (item) item.status = "running";
      else S.lineup.push({ id: d.lot.id, position: d.lot.position, title: d.lot.product?.title,
        starting_price: d.lot.starting_price, currency: d.lot.currency, status: "running",
        image_url: d.lot.product?.image_url, final_sale: d.lot.final_sale });
      if (D.customInput) D.customInput.value = "";
      if (D.maxInput) D.maxInput.value = "";
      renderLineup(); renderLot();
      break;
    }
    case "bid.accepted":
      if (!same) break;
      Object.assign(lot, { price: d.price, min_next_bid: d.min_next_bid, leader: d.leader,
        closes_at: d.closes_at, bid_count: d.bid_count });
      if (isMe(d.leader)) S.myLots.add(lot.id);
      frame.price = true; frame.pulse = true; schedule();
      break;
    case "auction.extended":
      if (!same) break;
      lot.closes_at = d.closes_at;
      countdown.set(lot.closes_at);
      pulse(D.countdown);
      renderState();
      break;
    case "auction.closed": {
      const item = S.lineup.find((l) => l.id === d.auction_id);
      if (item) item.status = "closed";
      if (same) {
        Object.assign(lot, { status: "closed", outcome: d.outcome, winner: d.winner, final_price: d.price });
        if (d.closed_at) lot.closes_at = d.closed_at;
        const title = lot.product?.title || "This lot";
        if (isMe(d.winner)) showWin(lot.product?.title, d.order_id, d.price, lot.currency);
        else if (d.outcome === "sold") {
          const sold = `${title} sold to ${d.winner?.display_name || "a bidder"} for ${money(d.price, lot.currency)}.`;
          notice(S.myLots.has(lot.id) ? `You lost: ${sold}` : sold, S.myLots.has(lot.id) ? "bad" : "info");
        } else if (!D.notice.textContent || D.notice.dataset.tone === "info") {
          notice(`${title}: ${d.outcome === "reserve_not_met" ? "reserve not met, not sold" : "no bids, not sold"}.`);
        }
        renderPrice();
      }
      renderLineup();
      break;
    }
    case "chat.message":
      frame.chat.push(d);
      if (frame.chat.length > MAX_CHAT) frame.chat.splice(0, frame.chat.length - MAX_CHAT);
      schedule();
      break;
    case "chat.deleted":
      removeChat(d.id);
      break;
    case "likes":
      S.likes = d.total; renderCounts();
      break;
    case "viewers":
      S.viewers = d.count; renderCounts();
      break;
    case "flash.started":
    case "flash.stock":
    case "flash.ended":
      flash.event(msg.type, d);
      break;
    case "room.updated":
      Object.assign(S.room, d);
      renderRoomStatus(); renderSlowMode();
      if (!S.lot) renderLot(); else renderState();
      if (d.status === "ended") { notice("The host ended the show. Thanks for watching!"); renderLineup(); }
      if (d.status === "live") notice("The show is live!", "good");
      break;
    default:
      break;
  }
}

function onPersonal(msg) {
  const d = msg.data || {};
  switch (msg.type) {
    case "welcome":
      if (me && !d.user) notice("Your session has ended — log in again to bid and chat.", "bad");
      me = d.user || null;
      if (S.pending?.via === "ws") sock.send(S.pending.msg);   // same key: the server replays its answer
      renderPrice();
      break;
    case "bid.ack":
      bidAnswered(d.idempotency_key, { ok: true, leading: d.leading, price: d.price, auction_id: d.auction_id,
        auction_seq: d.auction_seq, closes_at: d.closes_at });
      break;
    case "bid.rejected":
      bidAnswered(d.idempotency_key, { ok: false, code: d.code, message: d.message,
        min_next_bid: d.min_next_bid, auction_id: d.auction_id ?? S.lot?.id });
      if (!S.pending) renderBidControls();
      break;
    case "notice":
      if (d.kind === "outbid") {
        if (d.auction_id) S.myLots.add(d.auction_id);
        notice(`You were outbid${d.min_next_bid ? ` — bid ${money(d.min_next_bid, currency())} to get back in front` : ""}.`, "bad");
        renderState();
      } else if (d.kind === "won") {
        const title = S.lot?.id === d.auction_id ? S.lot.product?.title : null;
        showWin(title, d.order_id, d.price, S.lot?.currency);
        notice(d.message || "You won — pay now to secure your item.", "good");
      } else {
        if (d.kind === "mute") setMuted(true);
        if (d.kind === "unmute") setMuted(false);
        notice(d.message || "", d.kind === "unmute" ? "good" : "bad");
      }
      break;
    case "error": {
      const chatCodes = ["slow_mode", "rate_limited", "muted", "empty_message", "message_too_long", "banned"];
      if (chatCodes.includes(d.code)) {
        const msgText = d.code === "slow_mode" && d.retry_after ? `${d.message} Try again in ${Math.ceil(d.retry_after)}s.` : d.message;
        chatFailed(d.code, msgText);
      } else notice(d.message || "Something went wrong.", "bad");
      break;
    }
    default:
      break;
  }
}

function onStatus(state, detail) {
  S.connected = state === "live";
  if (state === "live") { D.conn.hidden = true; return; }
  if (state === "closed") {
    D.conn.hidden = false;
    setText(D.conn, detail?.message || "Disconnected.");
    notice(detail?.message || "Disconnected.", "bad");
    if (detail?.code === 4401) me = null;
    return;
  }
  if (state === "reconnecting") {
    D.conn.hidden = false;
    setText(D.conn, "Reconnecting…");
  }
}

// ---- wiring -----------------------------------------------------------------------------------
D.bidNext?.addEventListener("click", () => { if (S.lot) placeBid("direct", S.lot.min_next_bid); });
D.customForm?.addEventListener("submit", (e) => {
  e.preventDefault();
  placeBid("direct", toMinor(D.customInput.value, currency()));
});
D.maxForm?.addEventListener("submit", (e) => {
  e.preventDefault();
  placeBid("max", toMinor(D.maxInput.value, currency()));
});
D.chatForm?.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = D.chatInput.value.trim();
  if (!text || S.muted) return;
  D.chatInput.value = "";
  sendChat(text.slice(0, 300));
});

D.wonDismiss?.addEventListener("click", () => { D.won.hidden = true; });

let likeWindow = [0, 0];
D.likeButton.addEventListener("click", () => {
  const now = performance.now();
  if (now - likeWindow[0] > 1000) likeWindow = [now, 0];
  if (++likeWindow[1] > 10) return;
  sock.send({ type: "like" });
  S.likes += 1; renderCounts();
  const heart = el("span", { class: "room-float", "aria-hidden": "true" }, "♥");
  heart.addEventListener("animationend", () => heart.remove());
  D.likeButton.parentElement.append(heart);
});

startVideo({ video: D.video, stage: D.stage, url: root.dataset.playback, hlsJs: root.dataset.hlsJs, unmute: D.unmute });
renderRoomStatus(); renderLot(); renderLineup();
sock.connect();

// For tests and debugging: the socket's state, read-only in spirit.
window.bidcastRoom = { sock, state: S };
