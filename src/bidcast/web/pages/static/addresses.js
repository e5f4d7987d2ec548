// The address book (/me/addresses): list, add, edit, delete and choose the default, all through
// /api/v1/me/addresses. Everything from the server goes into the page as text through el().
import { api, ApiError, el, showError } from "/static/app.js";
import { FIELDS } from "/static/checkout.js";
import { badge, empty, fill } from "/static/me_ui.js";

const root = document.querySelector("[data-addresses]");

function fieldsOf(address = {}) {
  const box = el("div", { class: "address-form", "data-testid": "address-form" },
    FIELDS.map(([name, text, auto, wide]) => el("label", { class: wide ? "wide" : "" }, text,
      el("input", { name, autocomplete: auto, required: name !== "line2", value: address[name] ?? "",
                    maxlength: name === "country" ? "2" : "120", "data-testid": `address-${name}` }))));
  box.values = () => Object.fromEntries(FIELDS.map(([name]) => [name, box.querySelector(`[name=${name}]`).value.trim()]));
  return box;
}

const oneLine = (a) => `${a.line1}${a.line2 ? `, ${a.line2}` : ""}, ${a.postal_code} ${a.city}, ${a.country}`;

// One write; on success the list is drawn again, on a refusal the message shows in `error`.
async function write(button, error, call) {
  error.hidden = true;
  button.disabled = true;
  try {
    await call();
    await load();
  } catch (err) {
    showError(error, err);
    button.disabled = false;
  }
}

function editor(a, rowNode) {
  const fields = fieldsOf(a);
  const error = el("p", { class: "error", hidden: true, "data-testid": "address-edit-error" });
  const save = el("button", { type: "submit", class: "small", "data-testid": "address-save" }, "Save");
  const cancel = el("button", { type: "button", class: "small secondary", onclick: () => form.replaceWith(rowNode) }, "Cancel");
  const form = el("form", { class: "panel", "data-testid": "address-editor", "data-address-id": a.id, novalidate: true },
    fields, el("div", { class: "item-actions" }, cancel, save), error);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    write(save, error, () => api("PATCH", `/api/v1/me/addresses/${a.id}`, fields.values()));
  });
  return form;
}

function row(a) {
  const error = el("p", { class: "error small", hidden: true, "data-testid": "address-row-error" });
  const edit = el("button", { type: "button", class: "small secondary", "data-testid": "address-edit" }, "Edit");
  const del = el("button", { type: "button", class: "small secondary", "data-testid": "address-delete" }, "Delete");
  const makeDefault = a.is_default ? null
    : el("button", { type: "button", class: "small secondary", "data-testid": "address-default" }, "Set as default");
  const node = el("div", { class: "line", "data-testid": "address-row", "data-address-id": a.id, "data-default": a.is_default ? "1" : "0" },
    el("strong", { "data-testid": "address-name" }, a.name),
    a.is_default ? badge("Default", "ok", { "data-testid": "address-default-badge" }) : null,
    el("span", { class: "muted small", "data-testid": "address-text" }, oneLine(a), ` · ${a.phone}`),
    el("span", { class: "item-actions" }, makeDefault, edit, del), error);
  edit.addEventListener("click", () => node.replaceWith(editor(a, node)));
  del.addEventListener("click", () => {
    if (!window.confirm(`Delete the address of ${a.name}? Orders already placed keep it.`)) return;
    write(del, error, () => api("DELETE", `/api/v1/me/addresses/${a.id}`));
  });
  makeDefault?.addEventListener("click", () => write(makeDefault, error, () => api("POST", `/api/v1/me/addresses/${a.id}/default`)));
  return node;
}

async function load() {
  await fill(root.querySelector("[data-list=addresses]"), async () => (await api("GET", "/api/v1/me/addresses")).addresses,
    row, () => empty("No saved address yet. Add one below, or at checkout."));
}

if (root) {
  const form = root.querySelector("[data-testid=address-add]");
  const fields = fieldsOf();
  form.querySelector("[data-slot=fields]").replaceWith(fields);
  const error = form.querySelector("[data-testid=address-add-error]");
  const submit = form.querySelector("[type=submit]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    write(submit, error, async () => {
      await api("POST", "/api/v1/me/addresses", { ...fields.values(), is_default: form.elements.is_default.checked });
      form.reset();
    }).then(() => { submit.disabled = false; });
  });
  load().catch((err) => showError(root.querySelector("[data-testid=addresses-error]"), err instanceof ApiError ? err : null));
}
