// Shared helpers for every page: the JSON API with CSRF, and small DOM utilities.

export function csrfToken() {
  const m = document.cookie.match(/(?:^|; )bidcast_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status; this.code = code; this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = data.error || {};
    throw new ApiError(res.status, err.code || "error", err.message || res.statusText, data);
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));  // text, never HTML
  }
  return node;
}

export function money(amount, currency = "EUR") {
  if (amount === null || amount === undefined) return "—";
  const digits = ["JPY", "KRW"].includes(currency) ? 0 : 2;
  return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits })
    .format(amount / 10 ** digits);
}

export function safePath(target) {
  return typeof target === "string" && /^\/(?![\/\\])[^\s\\]*$/.test(target) ? target : "/";
}

export function uuid() {
  return crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, "0")).join("");
}

export function showError(target, err) {
  if (!target) return;
  target.textContent = err instanceof ApiError ? err.message : "Something went wrong; try again.";
  target.hidden = false;
}

// Forms marked data-api="METHOD /path" submit as JSON; data-then is where to go afterwards.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
  event.preventDefault();
  const [method, path] = form.dataset.api.split(" ");
  const body = {};
  for (const [key, value] of new FormData(form)) {
    const input = form.elements[key];
    if (value === "" && !input.required) continue;
    body[key] = input?.dataset?.type === "int" ? Number.parseInt(value, 10)
      : input?.dataset?.type === "money" ? Math.round(Number.parseFloat(value) * 100)
      : input?.dataset?.type === "list" ? value.split(/\s+/).filter(Boolean)
      : input?.dataset?.type === "bool" ? value === "true" : value;
  }
  const error = form.querySelector(".error");
  if (error) error.hidden = true;
  const submit = form.querySelector("[type=submit]");
  if (submit) submit.disabled = true;
  try {
    const data = await api(method, path, body);
    form.dispatchEvent(new CustomEvent("api:done", { detail: data, bubbles: true }));
    // data-next is user-supplied (?next=): only a plain same-site path, never filled in.
    if (form.dataset.next) window.location.assign(safePath(form.dataset.next));
    // data-then comes from our own templates: {resource.field} is filled from the answer.
    else if (form.dataset.then) window.location.assign(safePath(form.dataset.then.replace(
      /\{([a-z_]+)\.(id)\}/g, (_, a, b) => encodeURIComponent(data?.[a]?.[b] ?? ""))));
  } catch (err) {
    showError(error, err);
  } finally {
    if (submit) submit.disabled = false;
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action=logout]");
  if (!button) return;
  await api("POST", "/api/v1/auth/logout").catch(() => null);
  window.location.assign("/");
});
