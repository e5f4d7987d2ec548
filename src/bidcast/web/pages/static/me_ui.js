// Shared pieces of the account pages (me.js, seller.js): list rows, badges, times, loading.
// Everything user-supplied goes into the page as text through el(), never as HTML.
import { ApiError, el } from "/static/app.js";

export const ORDER_STATUS = {
  awaiting_payment: ["Awaiting payment", "warn"],
  paid: ["Paid", "ok"],
  shipped: ["Shipped", "ok"],
  delivered: ["Delivered", "ok"],
  completed: ["Completed", "ok"],
  cancelled: ["Cancelled", "bad"],
  refunded: ["Refunded", "bad"],
};

export function label(code) {
  const text = String(code ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function badge(text, tone = "", attrs = {}) {
  return el("span", { class: `badge ${tone}`.trim(), ...attrs }, text);
}

export function orderBadge(status) {
  const [text, tone] = ORDER_STATUS[status] || [label(status), ""];
  return badge(text, tone, { "data-testid": "order-status", "data-status": status });
}

export function thumb(url) {
  const blank = () => el("div", { class: "item-thumb", "aria-hidden": "true" });
  // A picture that fails to load (a dead link a seller typed) leaves the plain tile, not a broken icon.
  return url ? el("img", { class: "item-thumb", src: url, alt: "", loading: "lazy",
                           onerror: (event) => event.currentTarget.replaceWith(blank()) })
    : blank();
}

const rtf = typeof Intl.RelativeTimeFormat === "function"
  ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;

// "3 minutes ago", "in 20 seconds"; the exact local time is in the title.
export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] = abs < 60 ? [seconds, "second"] : abs < 3600 ? [Math.round(seconds / 60), "minute"]
    : abs < 86400 ? [Math.round(seconds / 3600), "hour"] : abs < 30 * 86400 ? [Math.round(seconds / 86400), "day"]
    : [null, null];
  if (value === null || !rtf) return when(iso);
  return rtf.format(value, unit);
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function time(iso, format = ago) {
  return el("time", { datetime: iso, title: when(iso) }, format(iso));
}

export function empty(text, link) {
  return el("div", { class: "empty", "data-testid": "empty" }, el("p", {}, text),
    link ? el("a", { class: "button small secondary", href: link.href }, link.text) : null);
}

export function failed(err, retry) {
  const message = err instanceof ApiError ? err.message : "Could not load this list; check your connection.";
  return el("div", { class: "error", role: "alert" }, message, " ",
    retry ? el("button", { type: "button", class: "link", onclick: retry }, "Try again") : null);
}

// Fill `box` with rows from `load()`; an empty list shows `whenEmpty`. Returns the data.
export async function fill(box, load, row, whenEmpty) {
  box.setAttribute("aria-busy", "true");
  try {
    const items = await load();
    box.replaceChildren(...(items.length ? items.map(row) : [whenEmpty()]));
    return items;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
      return null;
    }
    box.replaceChildren(failed(err, () => fill(box, load, row, whenEmpty)));
    return null;
  } finally {
    box.removeAttribute("aria-busy");
  }
}

// Call `tick` every `ms` while the page is visible and `wanted()` says so; at once on return.
export function poll(tick, ms, wanted) {
  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    if (!document.hidden && wanted()) timer = setTimeout(async () => { await tick(); schedule(); }, ms);
  };
  document.addEventListener("visibilitychange", async () => {
    if (!document.hidden && wanted()) await tick();
    schedule();
  });
  schedule();
  return schedule;
}
