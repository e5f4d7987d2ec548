// The seller center's product list (with withdraw); orders live in orders.js.
import { api, el, money, showError } from "/static/app.js";
import { badge, empty, fill, label, thumb } from "/static/me_ui.js";

const CONDITION = { new: "New", like_new: "Like new", used_good: "Used — good", used_fair: "Used — fair", for_parts: "For parts" };

function productBadge(p) {
  if (p.status === "withdrawn") return badge("Withdrawn", "", { "data-testid": "product-status", "data-status": p.status });
  if (p.stock === 0) return badge("Out of stock", "warn", { "data-testid": "product-status", "data-status": "out_of_stock" });
  return badge("Active", "ok", { "data-testid": "product-status", "data-status": p.status });
}

function productRow(p) {
  const error = el("p", { class: "error", hidden: true });
  const active = p.status === "active";
  const row = el("article", { class: `item${active ? "" : " is-muted"}`, "data-testid": "product-row",
                              "data-product-id": p.id, "data-status": p.status },
    thumb(p.image_urls[0]),
    el("div", { class: "item-body" },
      el("strong", { class: "item-title" }, p.title),
      el("span", { class: "muted small" }, [p.sku, p.category, CONDITION[p.condition] || label(p.condition)].join(" · ")),
      el("span", { class: "small", "data-testid": "product-stock" }, `Stock: ${p.stock}`)),
    el("div", { class: "item-side" },
      productBadge(p),
      el("span", { class: "price" }, money(p.price.amount, p.price.currency))),
    active ? el("div", { class: "item-actions" },
      el("a", { class: "button small secondary", href: `/seller/products/${p.id}/edit`, "data-testid": "product-edit" }, "Edit"),
      el("button", { type: "button", class: "small secondary danger-text", "data-testid": "product-withdraw",
        onclick: async (event) => {
          const button = event.currentTarget;
          if (!window.confirm(`Withdraw “${p.title}”? It leaves the catalog and can't be edited or sold again.`)) return;
          button.disabled = true;
          try {
            const { product } = await api("POST", `/api/v1/products/${p.id}/withdraw`);
            row.replaceWith(productRow(product));
            recount();
          } catch (err) {
            showError(error, err);
            button.disabled = false;
          }
        } }, "Withdraw"),
      error) : null);
  return row;
}

const root = document.querySelector("[data-seller-view]");

function recount() {
  const counts = document.querySelector("[data-product-counts]");
  if (!counts || !root) return;
  const rows = [...root.querySelectorAll("[data-testid=product-row]")];
  const active = rows.filter(r => r.dataset.status === "active").length;
  counts.textContent = `${active} active · ${rows.length - active} withdrawn`;
}

if (root?.dataset.sellerView === "products") {
  const saved = new URLSearchParams(window.location.search).get("saved");
  fill(root, async () => (await api("GET", "/api/v1/me/products")).products, productRow,
    () => empty("No products yet. Add the first one, then put it up in a live show.",
      { href: "/seller/products/new", text: "New product" })).then(() => {
    recount();
    // Coming back from the form: point at the product just saved.
    const row = saved && root.querySelector(`[data-product-id="${CSS.escape(saved)}"]`);
    if (row) { row.classList.add("is-saved"); row.scrollIntoView({ block: "nearest" }); }
  });
}
