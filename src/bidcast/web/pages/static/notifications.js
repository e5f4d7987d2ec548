// The notification center (/me/notifications): stored notifications, newest first, paged by
// cursor; unread rows stand out; opening one marks it read; "mark all read"; e-mail settings.
// Also exports notificationRow for the account overview. Text only, never HTML.
import { api, el, safePath, showError } from "/static/app.js";
import { empty, fill, label, poll, time } from "/static/me_ui.js";
import { setUnread } from "/static/notify_badge.js";

const ICON = {
  outbid: ["↓", "warn"], won: ["★", "ok"], payment_due: ["!", "warn"], paid: ["€", "ok"],
  order_cancelled: ["✕", "bad"], sold: ["€", "ok"], shipped: ["→", "ok"], in_transit: ["→", ""],
  delivered: ["✓", "ok"], completed: ["✓", "ok"], funds_released: ["€", "ok"], payout: ["€", "ok"],
  return_requested: ["↩", "warn"], return_approved: ["↩", "ok"], return_rejected: ["↩", "bad"],
  return_disputed: ["!", "bad"], refunded: ["€", ""], second_chance: ["↻", "ok"], flash_sale: ["%", "warn"],
};

async function markRead(ids) {
  const { unread } = await api("POST", "/api/v1/me/notifications/read", ids ? { ids } : { all: true });
  setUnread(unread);
}

export function notificationRow(n) {
  const [icon, tone] = ICON[n.kind] || ["•", ""];
  const link = n.link ? safePath(n.link) : null;
  const row = el("article", {
    class: `item news${n.unread ? " is-unread" : ""}`, "data-testid": "notification-row",
    "data-kind": n.kind, "data-id": n.id, "data-unread": n.unread ? "true" : "false",
  },
    el("span", { class: `news-icon ${tone}`.trim(), "aria-hidden": "true" }, icon),
    el("div", { class: "item-body" },
      el("span", { class: "news-text" }, n.unread ? el("span", { class: "sr-only" }, "Unread: ") : null,
        el("strong", {}, n.title)),
      n.body ? el("span", { class: "small" }, n.body) : null,
      el("span", { class: "muted small" }, time(n.created_at))),
    el("div", { class: "item-side" },
      link ? el("a", { class: "button small secondary", href: link, "data-testid": "notification-open",
                       onclick: async (event) => {
                         if (!n.unread || event.ctrlKey || event.metaKey || event.shiftKey) return;
                         event.preventDefault();  // mark read first: leaving the page would cancel it
                         await markRead([n.id]).catch(() => {});
                         window.location.assign(link);
                       } }, "View") : null,
      n.unread ? el("button", { type: "button", class: "link small", "data-testid": "notification-read",
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          await markRead([n.id]);
          row.classList.remove("is-unread");
          row.dataset.unread = "false";
          event.currentTarget.remove();
        } }, "Mark read") : null));
  return row;
}

async function centerPage(root) {
  const box = root.querySelector("[data-list=news]");
  const more = root.querySelector("[data-action=more]");
  const onlyUnread = document.querySelector("[data-filter=unread]");
  const markAll = document.querySelector("[data-action=mark-all-read]");
  let cursor = null;
  const query = (after) => {
    const params = new URLSearchParams({ limit: "20" });
    if (onlyUnread?.checked) params.set("unread", "true");
    if (after) params.set("cursor", after);
    return `/api/v1/me/notifications?${params}`;
  };
  const first = async () => {
    await fill(box, async () => {
      const page = await api("GET", query(null));
      cursor = page.next_cursor;
      return page.notifications;
    }, notificationRow, () => empty(onlyUnread?.checked ? "You're all caught up." :
      "No notifications yet. Bid on something and we'll keep you posted.", { href: "/", text: "Find a live show" }));
    more.hidden = !cursor;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api("GET", query(cursor));
      cursor = page.next_cursor;
      box.append(...page.notifications.map(notificationRow));
      more.hidden = !cursor;
    } finally { more.disabled = false; }
  });
  onlyUnread?.addEventListener("change", first);
  markAll?.addEventListener("click", async () => {
    markAll.disabled = true;
    try {
      await markRead(null);
      await first();
    } finally { markAll.disabled = false; }
  });
  await first();
  // Only the first page refreshes by itself, and only while nothing older was loaded.
  poll(first, 20000, () => box.children.length <= 20);
}

const KIND_TEXT = { order_cancelled: "Order cancelled", second_chance: "Second-chance offers",
  payment_due: "Payment reminders", funds_released: "Funds released" };

async function settingsForm(form) {
  const enabled = form.querySelector("[name=email_enabled]");
  const kinds = form.querySelector("[data-kinds]");
  const status = form.querySelector("[data-status]");
  const error = form.querySelector(".error");
  const { settings } = await api("GET", "/api/v1/me/notification-settings");
  enabled.checked = settings.email_enabled;
  kinds.replaceChildren(...settings.kinds.map(kind => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "kind", value: kind, checked: !settings.muted_kinds.includes(kind) }),
    " ", KIND_TEXT[kind] || label(kind))));
  const sync = () => { kinds.toggleAttribute("disabled", !enabled.checked); };
  enabled.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    status.textContent = "";
    const muted = [...kinds.querySelectorAll("input[name=kind]")].filter(i => !i.checked).map(i => i.value);
    try {
      await api("PUT", "/api/v1/me/notification-settings", { email_enabled: enabled.checked, muted_kinds: muted });
      status.textContent = "Saved.";
    } catch (err) { showError(error, err); }
  });
}

const root = document.querySelector("[data-notifications-page]");
if (root) centerPage(root);
const form = document.querySelector("[data-notification-settings]");
if (form) settingsForm(form);
