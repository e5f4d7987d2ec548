// Checkout in three steps: cart (on /cart) → address and shipping → pay. The same flow runs on
// /checkout and, for one product, in the live room's buy-now sheet (room-shop.js).
import { api, ApiError, el, showError, uuid } from "/static/app.js";
import { apiWithKey, priceOf, refreshCartCount } from "/static/cart.js";
import { needsBankStep, passBankStep } from "/static/pay-step.js";

export const FIELDS = [
  ["name", "Full name", "name", true], ["line1", "Address", "address-line1", true],
  ["line2", "Apartment, suite (optional)", "address-line2", false], ["city", "City", "address-level2", false],
  ["postal_code", "Postal code", "postal-code", false], ["country", "Country (2 letters, e.g. DE)", "country", false],
  ["phone", "Phone", "tel", true],
];

function sum(items) {
  const by = {};
  for (const m of items) by[m.currency] = (by[m.currency] || 0) + m.amount;
  return Object.entries(by).map(([currency, amount]) => ({ amount, currency }));
}

function stepsBar(current, inSheet) {
  const names = ["Cart", "Address & shipping", "Pay"];
  return el("ol", { class: "steps", "data-testid": "checkout-steps" }, names.map((n, i) => el("li", {
    class: i + 1 === current ? "current" : i + 1 < current ? "done" : "", "data-step": i + 1 },
    i === 0 && !inSheet ? el("a", { href: "/cart" }, n) : n)));
}

function addressForm() {
  const form = el("div", { class: "address-form", "data-testid": "address-form" },
    FIELDS.map(([name, text, auto, wide]) => el("label", { class: wide ? "wide" : "" }, text,
      el("input", { name, autocomplete: auto, required: name !== "line2", maxlength: name === "country" ? "2" : "120",
                    "data-testid": `address-${name}` }))));
  form.values = () => Object.fromEntries(FIELDS.map(([name]) => [name, form.querySelector(`[name=${name}]`).value.trim()]));
  return form;
}

// Mounts the flow in `root`. opts: { productId, quantity } for one product ("buy now"),
// { checkoutId } to pay a placed checkout, nothing for the cart; inSheet: inside the room.
export async function mountCheckout(root, opts = {}) {
  const error = el("p", { class: "error", hidden: true, "data-testid": "checkout-error" });
  const show = (step, ...children) => root.replaceChildren(stepsBar(step, opts.inSheet),
    ...children.filter(c => c !== null && c !== undefined), error);
  const fail = (err) => showError(error, err);
  try {
    if (opts.checkoutId) return payStep((await api("GET", `/api/v1/checkouts/${opts.checkoutId}`)).checkout);
    const groups = opts.productId
      ? [(await api("GET", `/api/v1/cart/quote?product_id=${opts.productId}&quantity=${opts.quantity || 1}`)).group]
      : (await api("GET", "/api/v1/cart")).cart.groups;
    const { addresses } = await api("GET", "/api/v1/me/addresses");
    addressStep(groups, addresses);
  } catch (err) {
    show(1);
    fail(err);
  }

  function addressStep(groups, addresses) {
    if (!groups.length) {
      show(1, el("div", { class: "panel" }, el("p", {}, "Your cart is empty."), el("a", { class: "button", href: "/" }, "Discover products")));
      return;
    }
    const blocked = groups.some(g => g.lines.some(l => l.state !== "ok"));
    const form = addressForm();
    const choices = addresses.map(a => el("label", { class: "address-option", "data-testid": "address-option" },
      el("input", { type: "radio", name: "address", value: String(a.id), checked: a.is_default }),
      el("span", {}, el("strong", {}, a.name), el("br"),
        `${a.line1}${a.line2 ? `, ${a.line2}` : ""}, ${a.postal_code} ${a.city}, ${a.country}`)));
    const useNew = el("input", { type: "radio", name: "address", value: "new", checked: !addresses.length, "data-testid": "address-new" });
    const newChoice = el("label", { class: "address-option" }, useNew, el("span", {}, "A new address"));
    const list = el("div", { class: "address-list" }, choices, newChoice);
    const sync = () => { form.hidden = !useNew.checked; };
    list.addEventListener("change", sync);
    sync();
    const shipping = {};
    const totalBox = el("strong", { "data-testid": "checkout-total" });
    const groupTotals = new Map();
    const recompute = () => {
      const all = [];
      for (const g of groups) {
        const fee = g.shipping_options.find(o => o.method === (shipping[g.shop.id] || "standard")).fee;
        const total = { amount: g.subtotal.amount + fee.amount, currency: g.subtotal.currency };
        groupTotals.get(g.shop.id).textContent = priceOf(total);
        all.push(total);
      }
      totalBox.textContent = sum(all).map(priceOf).join(" + ");
    };
    const sections = groups.map(g => {
      const total = el("strong", { "data-testid": "checkout-group-total" });
      groupTotals.set(g.shop.id, total);
      const options = el("div", { class: "ship-options" }, g.shipping_options.map(o => el("label", { class: "ship-option" },
        el("input", { type: "radio", name: `ship-${g.shop.id}`, value: o.method, checked: o.method === "standard",
                      "data-testid": `ship-${o.method}`,
                      onchange: () => { shipping[g.shop.id] = o.method; recompute(); } }),
        el("span", {}, o.label, " · ", o.fee.amount ? priceOf(o.fee) : "free"))));
      return el("section", { class: "checkout-group panel", "data-testid": "checkout-group" },
        el("h2", {}, g.shop.name),
        g.lines.map(l => el("div", { class: "cart-subtotal" }, el("span", {}, `${l.title} × ${l.quantity}`),
          el("span", {}, priceOf(l.line_total)))),
        el("p", { class: "muted small" }, "Shipping"), options,
        el("div", { class: "cart-subtotal" }, el("span", {}, "Order total"), total));
    });
    let key = uuid();
    const next = el("button", { type: "button", "data-testid": "checkout-continue", disabled: blocked }, "Continue to payment");
    next.addEventListener("click", async () => {
      error.hidden = true;
      next.disabled = true;
      try {
        let addressId;
        if (useNew.checked) {
          addressId = (await api("POST", "/api/v1/me/addresses", form.values())).address.id;
        } else {
          addressId = Number(list.querySelector("input[name=address]:checked").value);
        }
        const body = { address_id: addressId, shipping };
        if (opts.productId) body.lines = [{ product_id: Number(opts.productId), quantity: Number(opts.quantity || 1) }];
        const { checkout } = await apiWithKey("POST", "/api/v1/checkout", body, key);
        if (!opts.productId) refreshCartCount();
        if (!opts.inSheet) history.replaceState(null, "", `/checkout?id=${encodeURIComponent(checkout.id)}`);
        payStep(checkout);
      } catch (err) {
        // The server answered: nothing was placed, the next try is a new request. No answer: the
        // same key makes the retry safe (it returns the checkout if it was placed after all).
        if (err instanceof ApiError) key = uuid();
        fail(err);
        next.disabled = false;
      }
    });
    show(2,
      el("section", { class: "panel" }, el("h2", {}, "Ship to"), list, form,
        el("a", { class: "small", href: "/me/addresses", "data-testid": "manage-addresses",
                  target: opts.inSheet ? "_blank" : null, rel: opts.inSheet ? "noopener" : null }, "Manage addresses")),
      el("div", { class: "checkout-groups" }, sections),
      el("div", { class: "panel checkout-total" }, el("span", {}, "Total"), totalBox),
      blocked ? el("p", { class: "error" }, "Some lines are sold out or no longer for sale: ", el("a", { href: "/cart" }, "fix your cart"), ".") : null,
      next);
    recompute();
  }

  function payStep(checkout) {
    const open = checkout.orders.filter(o => o.status === "awaiting_payment");
    const summary = checkout.orders.map(o => el("section", { class: "checkout-group panel", "data-testid": "checkout-order",
                                                            "data-order-id": o.id },
      el("h2", {}, `${o.shop.name} · order #${o.id}`),
      o.lines.map(l => el("div", { class: "cart-subtotal" }, el("span", {}, `${l.title} × ${l.quantity}`), el("span", {}, priceOf(l.line_total)))),
      el("div", { class: "cart-subtotal" }, el("span", { class: "muted" }, `Shipping (${o.shipping.method})`),
        el("span", {}, o.shipping.amount ? priceOf(o.shipping) : "free")),
      el("div", { class: "cart-subtotal" }, el("span", {}, o.status === "awaiting_payment" ? "To pay" : o.status.replace("_", " ")),
        el("strong", {}, priceOf(o.total)))));
    if (!open.length) return done(checkout, summary);
    const total = sum(open.map(o => o.total));
    let key = uuid();
    const card = el("input", { name: "payment_method", inputmode: "numeric", autocomplete: "cc-number", required: true,
      placeholder: "Card number (sandbox: 4242 4242 4242 4242)", "data-testid": "checkout-card" });
    const pay = el("button", { type: "submit", "data-testid": "checkout-pay" }, `Pay ${total.map(priceOf).join(" + ")}`);
    const deadline = new Date(checkout.pay_by).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    const form = el("form", { class: "pay-form panel", "data-testid": "checkout-pay-form" }, card, pay,
      el("p", { class: "muted small" }, `Your items are reserved until ${deadline}. Bidcast never stores your card number.`));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      pay.disabled = true;
      let stepped = false;
      try {
        // Paying stops at the first order whose bank asks for an extra step: confirm it, then pay
        // again for the rest (orders already paid are skipped; each may ask for its own step).
        for (let round = 0; ; round++) {
          try {
            const result = await api("POST", `/api/v1/checkouts/${checkout.id}/pay`,
              { payment_method: card.value.replace(/\s+/g, ""), idempotency_key: key });
            return done(result.checkout, null);
          } catch (err) {
            if (!needsBankStep(err) || round >= checkout.orders.length) throw err;
            key = uuid();
            const orderId = err.body.error.order_id;
            await passBankStep(err, { orderId, amount: checkout.orders.find(o => o.id === orderId)?.total });
            stepped = true;
          }
        }
      } catch (err) {
        if (err instanceof ApiError) key = uuid();
        if (stepped || err.body?.error?.paid_order_ids?.length) {
          // Some orders are paid now: show the checkout as it stands, then why it stopped.
          try { payStep((await api("GET", `/api/v1/checkouts/${checkout.id}`)).checkout); } catch { /* keep this view */ }
        }
        fail(err);
        pay.disabled = false;
      }
    });
    show(3, el("div", { class: "checkout-groups" }, summary), form);
  }

  function done(checkout, summary) {
    const n = checkout.orders.length;
    show(3, el("section", { class: "panel checkout-done", "data-testid": "checkout-done" },
      el("h2", {}, n === 1 ? "Paid — thank you!" : `Paid — ${n} orders, one per shop.`),
      el("p", { class: "muted" }, "The sellers ship next; you'll find tracking in your orders."),
      el("a", { class: "button", href: "/me/orders", "data-testid": "checkout-orders-link" }, "See your orders")),
      summary ? el("div", { class: "checkout-groups" }, summary) : null);
    opts.onDone?.(checkout);
  }
}

const root = document.querySelector("[data-checkout]");
if (root) {
  mountCheckout(root, { productId: root.dataset.productId || null, quantity: root.dataset.quantity,
                        checkoutId: root.dataset.checkoutId || null });
}
