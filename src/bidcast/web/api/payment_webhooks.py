"""The payment provider's side of Bidcast: its signed webhooks, and the sandbox's bank step."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...errors import AppError, not_found
from ...services.accounts import Principal
from ...storage.models import Order
from ..auth import current_user
from ..schemas import In

# Mounted under /api/v1 by web/api/returns.py.
router = APIRouter(prefix="/payments", tags=["payments"])


@router.post("/webhooks")
async def payment_webhook(request: Request) -> dict:
    """A signed event from the provider (header `Bidcast-Signature: t=...,v1=...`).

    401 missing_signature / bad_signature, 400 stale_timestamp / malformed_signature /
    invalid_payload, 409 replayed; an event handled before answers 200 with `duplicate: true`."""
    body = await request.body()
    if len(body) > 64 * 1024:
        raise AppError(413, "payload_too_large", "Webhook bodies are at most 64 KiB.")
    return await request.app.state.c.payment_webhooks.receive(body, request.headers.get("Bidcast-Signature"))


class AuthenticateIn(In):
    succeed: bool = True


@router.post("/sandbox/intents/{intent_id}/authenticate")
async def sandbox_authenticate(intent_id: str, body: AuthenticateIn, request: Request,
                               who: Principal = Depends(current_user)) -> dict:
    """Sandbox only: the bank's extra confirmation page (3-D Secure). Passing it authorizes the
    intent; the provider then tells Bidcast by webhook, which captures and marks the order paid."""
    provider = request.app.state.c.payments.provider
    if not hasattr(provider, "complete_action") or len(intent_id) > 40:
        raise not_found("Payment intent")
    intent = await provider.get(intent_id)
    kind, _, order_id = intent.reference.partition(":")
    async with request.app.state.c.sessions() as s:
        order = await s.get(Order, int(order_id)) if kind == "order" and order_id.isdigit() else None
    if order is None or order.buyer_id != who.id:
        raise not_found("Payment intent")
    intent = await provider.complete_action(intent_id, succeed=body.succeed)
    return {"intent": {"id": intent.id, "status": intent.status, "decline_code": intent.decline_code}}
