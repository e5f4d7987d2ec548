// The unread count next to the account link in the header: one request per page load.
import { api } from "/static/app.js";

const badges = () => document.querySelectorAll("[data-notify-badge]");

export function setUnread(count) {
  for (const node of badges()) {
    node.textContent = count > 99 ? "99+" : String(count);
    node.hidden = !count;
    node.closest("a")?.setAttribute("aria-label", count ? `Notifications, ${count} unread` : "Notifications");
  }
}

if (badges().length) {
  api("GET", "/api/v1/me/notifications/unread-count").then(({ unread }) => setUnread(unread)).catch(() => {});
}
