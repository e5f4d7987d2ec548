// Returns: the buyer's request (then its status, history and a dispute after a rejection), the
// seller's requests to answer (approve all or part, or reject), the admin's disputes to decide.
// Data comes from /api/v1 and goes into the page as text through el(); deadlines count on the
// server's clock (data-server-now), not this device's.
import { api, ApiError, el, money, showError } from "/static/app.js";
import { badge, empty, fill, label, poll, thumb, time, when } from "/static/me_ui.js";

const root = document.querySelector("[data-returns-view]");
const offset = Number(root?.dataset.serverNow || Date.now()) - Date.now();
const serverNow = () => Date.now() + offset;

const STATUS = {
  requested: ["Waiting for the seller", "warn"], approved: ["Approved — refund under way", "ok"],
  auto_approved: ["Approved automatically — refund under way", "ok"], rejected: ["Rejected by the seller", "bad"],
  disputed: ["Disputed — an admin decides", "warn"], resolved: ["Dispute decided — no refund", "bad"],
  refunded: ["Refunded", "ok"],
};
const EVENT_TEXT = {
  return_requested: "Return requested", return_approved: "Approved by the seller",
  return_auto_approved: "Approved automatically (no answer in time)", return_rejected: "Rejected by the seller",
  return_disputed: "Disputed by the buyer", return_resolved: "Dispute decided: no refund",
  return_refunded: "Refunded", refunded: "Money sent back",
};
const OPEN = new Set(["requested", "approved", "auto_approved", "disputed"]);
const digits = (cur) => (["JPY", "KRW"].includes(cur) ? 0 : 2);

function statusBadge(r) {
  const [text, tone] = STATUS[r.status] || [label(r.status), ""];
  return badge(text, tone, { "data-testid": "return-status", "data-status": r.status });
}

// "12.50" → 1250 (in the currency's minor units); "" → null; anything else → an error shown.
function toMinor(text, cur) {
  const value = String(text).trim().replace(",", ".");
  if (!value) return null;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ApiError(422, "invalid_amount", "Type an amount like 12.50.");
  return Math.round(Number.parseFloat(value) * 10 ** digits(cur));
}

function timeLeft(iso) {
  const ms = Date.parse(iso) - serverNow();
  if (ms <= 0) return "No answer in time: it is being approved in full";
  const h = Math.floor(ms / 3_600_000), m = Math.floor((ms % 3_600_000) / 60_000);
  return h ? `${h} h ${m} min left to answer` : `${m} min left to answer`;
}

function deadline(r) {
  if (r.status !== "requested" || !r.reply_by) return null;
  return el("span", { class: "small return-deadline", "data-testid": "return-time-left", "data-reply-by": r.reply_by,
                      title: when(r.reply_by) }, timeLeft(r.reply_by));
}
setInterval(() => {
  for (const node of document.querySelectorAll("[data-reply-by]")) node.textContent = timeLeft(node.dataset.replyBy);
}, 30_000);

function photos(urls) {
  const safe = (urls || []).filter(u => /^https?:\/\/[^\s]+$/i.test(u));
  if (!safe.length) return el("p", { class: "muted small" }, "No photos.");
  return el("div", { class: "return-photos-list", "data-testid": "return-photos" }, safe.map((u, i) =>
    el("a", { href: u, target: "_blank", rel: "noopener noreferrer nofollow", class: "return-photo",
              "data-testid": "return-photo", title: u },
      el("img", { src: u, alt: `Photo ${i + 1}`, loading: "lazy", referrerpolicy: "no-referrer",
                  onerror: (e) => e.currentTarget.replaceWith(`Photo ${i + 1}`) }))));
}

function statements(r) {
  const rows = [["Buyer's reason", r.reason, "return-reason-text"], ["Seller's answer", r.seller_note, "return-seller-note"],
    ["Buyer's dispute", r.dispute_reason, "return-dispute-text"], ["Decision", r.resolution_note, "return-resolution"]];
  return el("dl", { class: "meta return-statements" }, rows.filter(([, text]) => text).flatMap(([name, text, id]) =>
    [el("dt", {}, name), el("dd", { class: "prewrap", "data-testid": id }, text)]));
}

function amountLine(r) {
  if (r.refund_amount == null) return null;
  const text = r.status === "refunded" ? "Refunded" : "Refund";
  return el("strong", { class: "price", "data-testid": "return-refund" }, `${text} ${money(r.refund_amount, r.currency)}`);
}

// The amount typed (major units) in minor units, at most what is left to refund; empty → null.
function refundAmount(input, cur, max) {
  const amount = toMinor(input.value, cur);
  if (amount !== null && max !== null && amount > max) {
    throw new ApiError(422, "refund_exceeds_captured", `At most ${money(max, cur)} can still be refunded.`);
  }
  if (amount === 0) throw new ApiError(422, "invalid_amount", "A refund is more than zero.");
  return amount;
}

// A small form posting to the API; `done` gets the answer. Errors are shown under it.
function actionForm(testid, fields, buttons, submit, done) {
  const error = el("p", { class: "error", role: "alert", hidden: true, "data-testid": `${testid}-error` });
  return el("form", { class: "inline-form", "data-testid": testid, onsubmit: async (event) => {
    event.preventDefault();
    error.hidden = true;
    const all = event.currentTarget.querySelectorAll("button");
    all.forEach(b => { b.disabled = true; });
    try {
      done(await submit(event.submitter?.value));
    } catch (err) {
      showError(error, err);
    } finally {
      all.forEach(b => { b.disabled = false; });
    }
  } }, ...fields, ...buttons, error);
}

const button = (testid, text, value = "", cls = "small") =>
  el("button", { type: "submit", class: cls, value, "data-testid": testid }, text);
const note = (testid, placeholder, required) => el("input", { name: "note", maxlength: 500, required,
  placeholder, "data-testid": testid, "aria-label": placeholder });
const amountInput = (testid, cur, max) => el("input", { name: "amount", inputmode: "decimal", "data-testid": testid,
  placeholder: max == null ? "Amount" : `All: ${money(max, cur)}`, "aria-label": "Amount to refund" });

// ---- the buyer's page for one order ----------------------------------------------------------
async function orderPage(node) {
  const id = node.dataset.orderId;
  const box = node.querySelector("[data-return]");
  const form = node.querySelector("[data-testid=return-form]");
  let current = null;
  let schedule = () => null;
  const load = async () => {
    try {
      const [{ return: r }, { order }] = await Promise.all([
        api("GET", `/api/v1/orders/${id}/return`), api("GET", `/api/v1/orders/${id}`)]);
      current = r;
      box.replaceChildren(returnCard(r, order, node.dataset.role, load));
      box.hidden = false;
      schedule();  // keep watching while the return is open (an approval, the refund, a decision)
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) box.replaceChildren(el("p", { class: "error", role: "alert" },
        err instanceof ApiError ? err.message : "Could not load the return; check your connection."));
    }
  };
  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".error");
    const submit = form.querySelector("[type=submit]");
    error.hidden = true;
    const choice = form.elements.reason_code;
    const details = form.elements.details.value.trim();
    if (!choice.value) { showError(error, new ApiError(422, "invalid_reason", "Choose a reason.")); return; }
    const reason = details ? `${choice.selectedOptions[0].text}: ${details}` : choice.selectedOptions[0].text;
    const photoUrls = [...form.querySelectorAll("[name=photo_url]")].map(i => i.value.trim()).filter(Boolean);
    if (photoUrls.some(u => !/^https?:\/\/[^\s/]+\S*$/i.test(u))) {
      showError(error, new ApiError(422, "invalid_photo_url", "Photos are links starting with https:// (or http://)."));
      return;
    }
    submit.disabled = true;
    try {
      await api("POST", `/api/v1/orders/${id}/return`, { reason, photo_urls: photoUrls });
      form.remove();
      await load();
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  if (node.dataset.hasReturn === "true") await load();
  schedule = poll(load, 5000, () => current !== null && OPEN.has(current.status));
}

function returnCard(r, order, role, reload) {
  const history = order.events.filter(e => e.kind.startsWith("return_") || e.kind === "refunded");
  const why = el("input", { name: "reason", required: true, maxlength: 1000, "data-testid": "dispute-reason",
    placeholder: "Why the seller is wrong (an admin reads both sides)", "aria-label": "Why you disagree" });
  const dispute = role === "buyer" && r.status === "rejected"
    ? el("details", { class: "cancel" }, el("summary", { class: "button small secondary", "data-testid": "dispute-open" },
        "Disagree? Ask an admin to decide"),
      actionForm("dispute-form", [why], [button("dispute-submit", "Open a dispute")],
        () => api("POST", `/api/v1/returns/${r.id}/dispute`, { reason: why.value }), reload))
    : null;
  return el("article", { class: "item order return-card", "data-testid": "return-card", "data-return-id": r.id },
    thumb(order.product.image_url),
    el("div", { class: "item-body" },
      el("span", { class: "item-title" }, order.product.title || `Order #${order.id}`),
      el("span", { class: "muted small" }, `Return #${r.id} · asked `, time(r.created_at)),
      deadline(r)),
    el("div", { class: "item-side" }, statusBadge(r), amountLine(r)),
    el("div", { class: "order-more" }, statements(r), photos(r.photo_urls),
      el("h3", { class: "small" }, "History"),
      el("ol", { class: "timeline", "data-testid": "return-history" }, history.map(e =>
        el("li", { "data-testid": "return-event", "data-kind": e.kind },
          el("span", {}, EVENT_TEXT[e.kind] || label(e.kind)),
          e.detail ? el("span", { class: "muted" }, ` — ${e.detail}`) : null,
          " ", el("span", { class: "muted small" }, `${e.actor} · `, time(e.at)))))),
    dispute ? el("div", { class: "item-actions" }, dispute) : null);
}

// ---- lists: the seller's returns and the admin's disputes --------------------------------------
const orders = new Map();
const orderOf = (id) => { if (!orders.has(id)) orders.set(id, api("GET", `/api/v1/orders/${id}`).then(d => d.order)); return orders.get(id); };
const left = (o) => (o ? o.total.amount - o.refunded.amount : null);

function listRow(r, o, actions, testid) {
  return el("article", { class: "item order return-row", id: `return-${r.id}`, "data-testid": testid,
                         "data-return-id": r.id, "data-order-id": r.order_id, "data-status": r.status },
    thumb(o?.product.image_url),
    el("div", { class: "item-body" },
      el("a", { class: "item-title", href: `/orders/${r.order_id}/return` }, o?.product.title || `Order #${r.order_id}`),
      el("span", { class: "small" }, "Buyer: ", el("strong", {}, o?.buyer.display_name || `#${r.buyer_id}`),
        o ? el("span", { class: "muted" }, ` · paid ${money(o.total.amount, o.total.currency)}`) : null),
      el("span", { class: "muted small" }, `Return #${r.id} · order #${r.order_id} · `, time(r.created_at)),
      deadline(r)),
    el("div", { class: "item-side" }, statusBadge(r), amountLine(r)),
    el("div", { class: "order-more" }, statements(r), photos(r.photo_urls)),
    actions.length ? el("div", { class: "item-actions" }, actions) : null);
}

function sellerActions(r, o, reload) {
  if (r.status !== "requested") return [];
  const amount = amountInput("approve-amount", r.currency, left(o));
  const approveNote = note("approve-note", "Note for the buyer (optional)", false);
  const rejectNote = note("reject-note", "Why you reject it (the buyer sees this)", true);
  return [
    actionForm("approve-form", [amount, approveNote], [button("approve-submit", "Approve and refund")],
      () => api("POST", `/api/v1/returns/${r.id}/approve`,
        { amount: refundAmount(amount, r.currency, left(o)) ?? undefined, note: approveNote.value.trim() || undefined }), reload),
    el("details", { class: "cancel" }, el("summary", { class: "button small secondary", "data-testid": "reject-open" }, "Reject…"),
      actionForm("reject-form", [rejectNote], [button("reject-submit", "Reject return", "", "small danger")],
        () => api("POST", `/api/v1/returns/${r.id}/reject`, { note: rejectNote.value }), reload)),
  ];
}

function adminActions(r, o, reload) {
  if (r.status !== "disputed") return [];
  const amount = amountInput("resolve-amount", r.currency, left(o));
  const text = note("resolve-note", "Your decision, for both sides", true);
  return [actionForm("resolve-form", [amount, text],
    [button("resolve-refund", "Refund", "refund"), button("resolve-reject", "Reject dispute", "reject", "small danger")],
    (which) => api("POST", `/api/v1/admin/returns/${r.id}/resolve`, {
      amount: which === "reject" ? 0 : (refundAmount(amount, r.currency, left(o)) ?? left(o)), note: text.value }), reload)];
}

async function listPage(node, path, actions, testid, emptyText) {
  const box = node.querySelector("[data-list=returns]");
  const filter = node.querySelector("[data-testid=returns-filter]");
  // After an answer the row is redrawn in place (it stays in view even if the filter no longer matches).
  const row = (r, o) => {
    const update = async (data) => {
      orders.delete(r.order_id);
      node.replaceWith(row(data.return, await orderOf(r.order_id).catch(() => o)));
    };
    const node = listRow(r, o, actions(r, o, update), testid);
    return node;
  };
  const load = async () => {
    orders.clear();
    const params = filter?.value ? `?status=${encodeURIComponent(filter.value)}` : "";
    await fill(box, async () => {
      const rows = (await api("GET", `${path}${params}`)).returns;
      const found = await Promise.all(rows.map(r => orderOf(r.order_id).catch(() => null)));
      return rows.map((r, i) => [r, found[i]]);
    }, ([r, o]) => row(r, o), () => empty(emptyText));
  };
  filter?.addEventListener("change", load);
  await load();
}

const views = {
  order: orderPage,
  seller: (n) => listPage(n, "/api/v1/seller/returns", sellerActions, "return-row", "No returns here. 🎉"),
  admin: (n) => listPage(n, "/api/v1/admin/returns", adminActions, "dispute-row", "No disputes to decide."),
};
if (root) views[root.dataset.returnsView]?.(root);
