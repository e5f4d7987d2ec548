// /host: the host's rooms (times shown in local time) and the form that schedules a new one.

import { api, showError } from "/static/app.js";

for (const node of document.querySelectorAll("[data-local-time]")) {
  const when = new Date(node.dataset.localTime.endsWith("Z") || /[+-]\d\d:\d\d$/.test(node.dataset.localTime)
    ? node.dataset.localTime : `${node.dataset.localTime}Z`);
  if (!Number.isNaN(when.getTime())) {
    node.textContent = when.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }
}

const form = document.getElementById("schedule-form");
if (form) {
  const when = form.elements.scheduled_at;
  if (!when.value) {   // default: the next full half hour, in the host's local time
    const d = new Date(Date.now() + 30 * 60_000);
    d.setMinutes(d.getMinutes() < 30 ? 30 : 60, 0, 0);
    const pad = (n) => String(n).padStart(2, "0");
    when.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".error");
    error.hidden = true;
    const data = new FormData(form);
    const body = { title: data.get("title").trim(), scheduled_at: new Date(data.get("scheduled_at")).toISOString() };
    for (const key of ["cover_url", "playback_url"]) if (data.get(key)) body[key] = data.get(key).trim();
    if (data.get("payment_window_hours")) body.payment_window_seconds = Number(data.get("payment_window_hours")) * 3600;
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const res = await api("POST", "/api/v1/rooms", body);
      window.location.assign(`/host/rooms/${res.room.id}`);
    } catch (err) {
      showError(error, err);
      submit.disabled = false;
    }
  });
}
