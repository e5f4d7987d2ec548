// The bank's extra confirmation step (3-D Secure in the sandbox). A pay request answered 402
// `requires_action` carries the provider's intent id: this shows the bank's panel (amount,
// merchant, Confirm / Cancel), passes the step at the sandbox bank, then waits for the
// provider's webhook to capture and mark the order paid (docs/payments.md, "In the browser").
// Shared by every pay form: orders.js, checkout.js (and the room's buy-now sheet), room-flash.js.
import { api, ApiError, el, money } from "/static/app.js";

const POLL_MS = 500;
const WAIT_MS = 15_000;
const BANK = "Bidcast sandbox bank";

export function needsBankStep(err) {
  return err instanceof ApiError && err.code === "requires_action" && typeof err.body?.error?.intent_id === "string";
}

let styled = false;
function style() {
  if (styled) return;
  styled = true;
  document.head.append(el("link", { rel: "stylesheet", href: "/static/pay-step.css" }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitPaid(orderId) {
  const until = Date.now() + WAIT_MS;
  while (Date.now() < until) {
    await sleep(POLL_MS);
    try {
      const { order } = await api("GET", `/api/v1/orders/${orderId}`);
      if (order.status === "cancelled") return { order, paid: false };
      if (order.status !== "awaiting_payment") return { order, paid: true };
    } catch (err) {
      if (err instanceof ApiError && err.status < 500) throw err;   // no answer / 5xx: keep waiting
    }
  }
  return { order: null, paid: false };
}

// Shows the bank's panel for a `requires_action` error and resolves once the order is paid:
// { order }. Anything else throws an ApiError the caller shows like any refusal:
// bank_step_cancelled (the order still awaits payment), bank_step_failed, bank_step_pending.
// opts: { orderId, amount: {amount, currency} } (both default to the error's / the order's).
export async function passBankStep(err, opts = {}) {
  const intentId = err.body.error.intent_id;
  const orderId = opts.orderId ?? err.body.error.order_id;
  let amount = opts.amount;
  if (!amount) {
    try { amount = (await api("GET", `/api/v1/orders/${orderId}`)).order.total; } catch { amount = null; }
  }
  style();
  const confirm = el("button", { type: "button", "data-testid": "bank-confirm" }, "Confirm");
  const cancel = el("button", { type: "button", class: "secondary", "data-testid": "bank-cancel" }, "Cancel");
  const status = el("p", { class: "pay-step-status", role: "status", "aria-live": "polite", "data-testid": "bank-status" });
  const row = (name, value, testid) => el("div", { class: "pay-step-row" },
    el("span", { class: "muted" }, name), el("strong", { "data-testid": testid }, value));
  const dialog = el("dialog", { class: "pay-step", "data-testid": "bank-step", "aria-labelledby": "pay-step-title" },
    el("div", { class: "pay-step-bank" }, BANK, el("span", { class: "pay-step-secure" }, "Secure check")),
    el("h2", { id: "pay-step-title" }, "Confirm with your bank"),
    el("p", { class: "muted small" }, "Your bank asks you to approve this card payment."),
    row("Merchant", "Bidcast", "bank-merchant"),
    row("Amount", amount ? money(amount.amount, amount.currency) : "—", "bank-amount"),
    row("Order", `#${orderId}`, "bank-order"),
    status,
    el("div", { class: "pay-step-actions" }, cancel, confirm));
  document.body.append(dialog);

  const outcome = await new Promise((resolve) => {
    let busy = false;
    const say = (text, tone = "") => { status.textContent = text; status.dataset.tone = tone; };
    const finish = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    cancel.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      confirm.disabled = cancel.disabled = true;
      // Tell the bank: the intent fails (authentication_failed) and can never be captured later.
      await api("POST", `/api/v1/payments/sandbox/intents/${encodeURIComponent(intentId)}/authenticate`,
        { succeed: false }).catch(() => null);
      finish({ code: "bank_step_cancelled",
               message: "Payment not confirmed with your bank — the order is still awaiting payment. You can pay again." });
    });
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); cancel.click(); });   // Escape
    confirm.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      confirm.disabled = cancel.disabled = true;
      say("Confirming with your bank…");
      try {
        await api("POST", `/api/v1/payments/sandbox/intents/${encodeURIComponent(intentId)}/authenticate`, { succeed: true });
        say("Confirmed. Waiting for the payment to go through…");
        const { order, paid } = await waitPaid(orderId);
        if (paid) finish({ order });
        else if (order) finish({ code: "bank_step_failed", message: `The order is ${order.status.replace("_", " ")}; nothing was charged.` });
        else finish({ code: "bank_step_pending",
                      message: "Your bank confirmed, but the payment is still being processed. Check your orders in a minute." });
      } catch (e) {
        finish({ code: "bank_step_failed",
                 message: e instanceof ApiError ? `Your bank refused: ${e.message}` : "No answer from your bank — try paying again." });
      }
    });
    dialog.showModal();
    confirm.focus();
  });
  if (outcome.order) return outcome;
  throw new ApiError(402, outcome.code, outcome.message, { error: { code: outcome.code, message: outcome.message } });
}
