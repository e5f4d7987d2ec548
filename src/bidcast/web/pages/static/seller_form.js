// The product form: create (POST) or edit (PATCH only what changed). The price is typed in
// major units ("12.50") and sent in minor units, with the currency's own number of decimals.
import { ApiError, api, money, showError } from "/static/app.js";

const MAX_AMOUNT = 1_000_000_000;
const form = document.getElementById("product-form");

// "12.50" or "12,50" -> 1250 (EUR); "1500" -> 1500 (JPY). null when it is not a price.
export function toMinor(text, exponent) {
  const m = String(text).trim().replace(/[\s_']/g, "").match(/^(\d+)(?:[.,](\d*))?$/);
  if (!m) return null;
  const frac = m[2] ?? "";
  if (frac.length > exponent) return null;
  const minor = Number(m[1]) * 10 ** exponent + (exponent ? Number(frac.padEnd(exponent, "0")) : 0);
  return Number.isSafeInteger(minor) ? minor : null;
}

function exponent() {
  const option = form.elements.currency.selectedOptions[0];
  return Number(option?.dataset.exponent ?? 2);
}

function lines(text) {
  return text.split(/\s+/).map(s => s.trim()).filter(Boolean);
}

class Invalid extends Error {
  constructor(field, message) { super(message); this.field = field; }
}

function read() {
  const f = form.elements;
  const exp = exponent();
  const price = toMinor(f.price.value, exp);
  if (price === null || price < 1) {
    throw new Invalid("price", exp ? `Enter the price like 12.50 (at most ${exp} decimals).` : "Enter the price as a whole number.");
  }
  if (price > MAX_AMOUNT) throw new Invalid("price", "That price is too high.");
  const stock = Number(f.stock.value);
  if (!Number.isInteger(stock) || stock < 0 || stock > 1_000_000) {
    throw new Invalid("stock", "Stock is a whole number from 0 to 1,000,000.");
  }
  const images = lines(f.image_urls.value);
  if (images.length > 10) throw new Invalid("image_urls", "At most 10 image URLs.");
  const bad = images.findIndex(u => !/^https?:\/\/[^\s/]+/i.test(u));
  if (bad >= 0 && f.image_urls.value !== f.image_urls.defaultValue) {
    throw new Invalid("image_urls", `Image URL ${bad + 1} must start with https:// (or http://).`);
  }
  return {
    title: f.title.value.trim(), description: f.description.value, image_urls: images,
    category: f.category.value.trim(), condition: f.condition.value, sku: f.sku.value.trim(),
    price_amount: price, currency: f.currency.value, stock,
  };
}

// For an edit: only the fields whose inputs differ from what the page was rendered with.
function changes(all) {
  const f = form.elements;
  const out = {};
  const changed = (name) => f[name].value !== f[name].defaultValue;
  for (const name of ["title", "description", "category", "stock"]) if (changed(name)) out[name] = all[name];
  if (changed("image_urls")) out.image_urls = all.image_urls;
  if (changed("price")) out.price_amount = all.price_amount;
  const cond = f.condition.selectedOptions[0];
  if (cond && !cond.defaultSelected) out.condition = all.condition;
  return out;
}

function focusField(err) {
  const field = err instanceof Invalid ? err.field
    : (err instanceof ApiError ? err.body?.error?.fields?.[0]?.field : null);
  if (!field) return;
  const name = field === "price_amount" ? "price" : field.split(".")[0];
  form.elements[name]?.focus?.();
}

function showPrice() {
  const out = form.querySelector("[data-price-preview]");
  if (!out) return;
  const minor = toMinor(form.elements.price.value, exponent());
  out.textContent = minor ? `= ${money(minor, form.elements.currency.value)}` : "";
}

if (form) {
  form.elements.price.addEventListener("input", showPrice);
  form.elements.currency.addEventListener("change", showPrice);
  showPrice();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".error");
    error.hidden = true;
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const all = read();
      let product;
      if (form.dataset.mode === "edit") {
        const body = changes(all);
        product = Object.keys(body).length
          ? (await api("PATCH", `/api/v1/products/${form.dataset.productId}`, body)).product
          : { id: form.dataset.productId };
      } else {
        product = (await api("POST", "/api/v1/products", all)).product;
      }
      window.location.assign(`/seller/products?saved=${encodeURIComponent(product.id)}`);
    } catch (err) {
      if (err instanceof Invalid) { error.textContent = err.message; error.hidden = false; }
      else showError(error, err);
      focusField(err);
      submit.disabled = false;
    }
  });
}
