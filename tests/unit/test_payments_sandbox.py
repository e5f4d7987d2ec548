"""Sandbox payment provider, webhook signatures and the retrying webhook sender. No network."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bidcast.payments import (
    SIGNATURE_HEADER,
    PaymentError,
    PaymentProvider,
    ReplayGuard,
    SandboxProvider,
    WebhookSender,
    WebhookVerificationError,
    parse_event,
    sign,
    verify,
)

OK = "4242424242424242"
DECLINE = "4000000000000002"
NO_FUNDS = "4000000000009995"
EXTRA_STEP = "4000002500003155"
SECRET = "whsec_test"
NOW = 1_700_000_000


def run(coro):
    return asyncio.run(coro)


async def authorized(p: SandboxProvider, amount: int = 5000, card: str = OK):
    intent = await p.create_intent(amount, "EUR", "order-1", idempotency_key="c1")
    return await p.confirm(intent.id, card, idempotency_key="k1")


def error_code(exc_info) -> str:
    return exc_info.value.code


# -- intents ---------------------------------------------------------------------------------

def test_sandbox_implements_the_protocol():
    assert isinstance(SandboxProvider(), PaymentProvider)


def test_authorize_then_capture():
    async def go():
        p = SandboxProvider(clock=lambda: NOW)
        intent = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        assert intent.status == "requires_confirmation"
        intent = await p.confirm(intent.id, p.tokenize("4242 4242 4242 4242"), idempotency_key="k1")
        assert (intent.status, intent.last4, intent.amount_capturable) == ("authorized", "4242", 5000)
        intent = await p.capture(intent.id, idempotency_key="k2")
        assert (intent.status, intent.captured, intent.refunded) == ("succeeded", 5000, 0)
        assert await p.get(intent.id) == intent
        assert [e["type"] for e in p.events] == ["payment.authorized", "payment.captured"]
    run(go())


def test_partial_capture_and_capture_above_authorized_refused():
    async def go():
        p = SandboxProvider()
        intent = await authorized(p, 5000)
        with pytest.raises(PaymentError) as err:
            await p.capture(intent.id, 5001, idempotency_key="k2")
        assert error_code(err) == "amount_too_large"
        assert (await p.get(intent.id)).status == "authorized"
        intent = await p.capture(intent.id, 3000, idempotency_key="k3")
        assert intent.captured == 3000
        with pytest.raises(PaymentError) as err:  # one capture only
            await p.capture(intent.id, 1000, idempotency_key="k4")
        assert error_code(err) == "invalid_state"
    run(go())


def test_partial_refunds_up_to_captured_then_refused():
    async def go():
        p = SandboxProvider()
        intent = await authorized(p, 5000)
        await p.capture(intent.id, 4000, idempotency_key="cap")
        r1 = await p.refund(intent.id, 1500, idempotency_key="r1")
        r2 = await p.refund(intent.id, 2500, idempotency_key="r2")
        assert (r1.amount, r2.amount, r1.currency) == (1500, 2500, "EUR")
        assert (await p.get(intent.id)).refunded == 4000
        with pytest.raises(PaymentError) as err:
            await p.refund(intent.id, 1, idempotency_key="r3")
        assert error_code(err) == "amount_too_large"
        assert (await p.get(intent.id)).refunded == 4000
        assert [e["type"] for e in p.events].count("refund.succeeded") == 2
    run(go())


def test_refund_over_captured_in_one_go_refused_and_before_capture_invalid_state():
    async def go():
        p = SandboxProvider()
        intent = await authorized(p, 5000)
        with pytest.raises(PaymentError) as err:
            await p.refund(intent.id, 100, idempotency_key="r0")
        assert error_code(err) == "invalid_state"
        await p.capture(intent.id, 2000, idempotency_key="cap")
        with pytest.raises(PaymentError) as err:
            await p.refund(intent.id, 2001, idempotency_key="r1")
        assert error_code(err) == "amount_too_large"
    run(go())


@pytest.mark.parametrize("card,code", [(DECLINE, "card_declined"), (NO_FUNDS, "insufficient_funds")])
def test_failing_cards(card, code):
    async def go():
        p = SandboxProvider()
        intent = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        with pytest.raises(PaymentError) as err:
            await p.confirm(intent.id, card, idempotency_key="k1")
        assert error_code(err) == code and err.value.status == 402
        failed = await p.get(intent.id)
        assert (failed.status, failed.decline_code, failed.last4) == ("failed", code, card[-4:])
        assert err.value.intent == failed
        assert p.events[-1]["type"] == "payment.failed"
        with pytest.raises(PaymentError) as err:
            await p.capture(intent.id, idempotency_key="k2")
        assert error_code(err) == "invalid_state"
    run(go())


def test_extra_confirmation_step():
    async def go():
        p = SandboxProvider()
        intent = await authorized(p, 5000, EXTRA_STEP)
        assert intent.status == "requires_action"
        assert p.events == []
        with pytest.raises(PaymentError) as err:
            await p.capture(intent.id, idempotency_key="k2")
        assert error_code(err) == "invalid_state"
        intent = await p.complete_action(intent.id)
        assert intent.status == "authorized"
        assert p.events[-1]["type"] == "payment.authorized"
        assert (await p.capture(intent.id, idempotency_key="k3")).status == "succeeded"

        other = await p.create_intent(700, "EUR", "order-2", idempotency_key="c2")
        await p.confirm(other.id, EXTRA_STEP, idempotency_key="k4")
        failed = await p.complete_action(other.id, succeed=False)
        assert (failed.status, failed.decline_code) == ("failed", "authentication_failed")
    run(go())


def test_unknown_card_and_validation():
    async def go():
        p = SandboxProvider()
        intent = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        with pytest.raises(PaymentError) as err:
            await p.confirm(intent.id, "4111111111111112", idempotency_key="k1")
        assert error_code(err) == "invalid_card"
        assert (await p.get(intent.id)).status == "requires_confirmation"
        for amount, currency, code in [(0, "EUR", "invalid_amount"), (1.5, "EUR", "invalid_amount"), (100, "XYZ", "unknown_currency")]:
            with pytest.raises(PaymentError) as err:
                await p.create_intent(amount, currency, "order-x", idempotency_key=f"v{amount}{currency}")
            assert error_code(err) == code
        with pytest.raises(PaymentError) as err:
            await p.get("pi_missing")
        assert error_code(err) == "not_found" and err.value.status == 404
    run(go())


def test_full_card_number_is_never_kept():
    async def go():
        p = SandboxProvider()
        for i, card in enumerate([OK, DECLINE, EXTRA_STEP]):
            intent = await p.create_intent(100, "EUR", f"o{i}", idempotency_key=f"c{i}")
            try:
                await p.confirm(intent.id, card, idempotency_key=f"k{i}")
            except PaymentError:
                pass
        state = repr(vars(p)) + json.dumps(p.events)
        for card in (OK, DECLINE, EXTRA_STEP):
            assert card not in state
            assert card[-4:] in state
    run(go())


# -- idempotency -----------------------------------------------------------------------------

def test_idempotent_retries_return_the_same_result():
    async def go():
        p = SandboxProvider()
        a = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        b = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        assert a == b and len(p.store.intents) == 1
        await p.confirm(a.id, OK, idempotency_key="k1")
        again = await p.confirm(a.id, OK, idempotency_key="k1")  # would be invalid_state if re-run
        assert again.status == "authorized"
        await p.capture(a.id, 2000, idempotency_key="cap")
        assert (await p.capture(a.id, 2000, idempotency_key="cap")).captured == 2000
        r1 = await p.refund(a.id, 500, idempotency_key="r1")
        assert await p.refund(a.id, 500, idempotency_key="r1") == r1
        assert (await p.get(a.id)).refunded == 500
        assert [e["type"] for e in p.events] == ["payment.authorized", "payment.captured", "refund.succeeded"]
    run(go())


def test_idempotent_retry_of_a_declined_confirm_raises_the_same_error():
    async def go():
        p = SandboxProvider()
        intent = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        for _ in range(2):
            with pytest.raises(PaymentError) as err:
                await p.confirm(intent.id, DECLINE, idempotency_key="k1")
            assert error_code(err) == "card_declined"
        assert len(p.events) == 1
    run(go())


def test_idempotency_conflicts():
    async def go():
        p = SandboxProvider()
        intent = await p.create_intent(5000, "EUR", "order-1", idempotency_key="c1")
        with pytest.raises(PaymentError) as err:
            await p.create_intent(6000, "EUR", "order-1", idempotency_key="c1")
        assert error_code(err) == "idempotency_conflict" and err.value.status == 409
        await p.confirm(intent.id, OK, idempotency_key="k1")
        with pytest.raises(PaymentError) as err:  # same key, other operation
            await p.capture(intent.id, idempotency_key="k1")
        assert error_code(err) == "idempotency_conflict"
        await p.capture(intent.id, idempotency_key="cap")
        await p.refund(intent.id, 100, idempotency_key="r1")
        with pytest.raises(PaymentError) as err:
            await p.refund(intent.id, 200, idempotency_key="r1")
        assert error_code(err) == "idempotency_conflict"
        assert (await p.get(intent.id)).refunded == 100
        with pytest.raises(PaymentError) as err:
            await p.refund(intent.id, 200, idempotency_key="")
        assert error_code(err) == "invalid_request"
    run(go())


# -- signatures ------------------------------------------------------------------------------

PAYLOAD = b'{"id":"evt_1","type":"payment.captured"}'


def test_a_provider_busy_past_its_retries_answers_a_transient_error_not_a_refusal():
    from contextlib import asynccontextmanager

    from bidcast.payments.sandbox_store import MemoryStore, RetryUnit

    class AlwaysContended(MemoryStore):
        """Every unit loses to a concurrent twin, as under a burst of same-key retries."""
        @asynccontextmanager
        async def unit(self, intent_id=None):
            raise RetryUnit()
            yield  # pragma: no cover

    p = SandboxProvider(store=AlwaysContended())
    with pytest.raises(PaymentError) as err:
        run(p.refund("pi_x", 100, idempotency_key="r1"))
    assert error_code(err) == "provider_busy" and err.value.status == 503 and err.value.transient
    with pytest.raises(PaymentError) as refused:
        run(SandboxProvider().refund("pi_missing", 100, idempotency_key="r1"))
    assert not refused.value.transient  # a real refusal stays one


def test_verify_ok():
    assert verify(PAYLOAD, sign(PAYLOAD, SECRET, NOW), SECRET, now=NOW + 10) == NOW


def test_verify_accepts_any_matching_v1_for_secret_rotation():
    header = sign(PAYLOAD, "old", NOW) + "," + sign(PAYLOAD, SECRET, NOW).split(",")[1]
    assert verify(PAYLOAD, header, SECRET, now=NOW) == NOW


@pytest.mark.parametrize("payload,header,now,code", [
    (PAYLOAD.replace(b"captured", b"refunded"), sign(PAYLOAD, SECRET, NOW), NOW, "bad_signature"),
    (PAYLOAD, sign(PAYLOAD, "wrong-secret", NOW), NOW, "bad_signature"),
    (PAYLOAD, sign(PAYLOAD, SECRET, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), NOW, "bad_signature"),
    (PAYLOAD, sign(PAYLOAD, SECRET, NOW), NOW + 301, "stale_timestamp"),
    (PAYLOAD, sign(PAYLOAD, SECRET, NOW), NOW - 301, "stale_timestamp"),
    (PAYLOAD, None, NOW, "missing_signature"),
    (PAYLOAD, "", NOW, "missing_signature"),
    (PAYLOAD, f"t={NOW}", NOW, "malformed_signature"),
    (PAYLOAD, sign(PAYLOAD, SECRET, NOW).split(",")[1], NOW, "malformed_signature"),
    (PAYLOAD, "t=abc,v1=00", NOW, "malformed_signature"),
])
def test_verify_rejects(payload, header, now, code):
    with pytest.raises(WebhookVerificationError) as err:
        verify(payload, header, SECRET, now=now)
    assert err.value.code == code


def test_replayed_event_id_inside_window_rejected_and_forgotten_after():
    guard = ReplayGuard(window=300)
    header = sign(PAYLOAD, SECRET, NOW)
    assert parse_event(PAYLOAD, header, SECRET, guard, now=NOW)["id"] == "evt_1"
    with pytest.raises(WebhookVerificationError) as err:
        parse_event(PAYLOAD, header, SECRET, guard, now=NOW + 5)
    assert err.value.code == "replayed"
    # A re-signed copy (fresh timestamp) of the same event id is still a replay inside the window.
    with pytest.raises(WebhookVerificationError) as err:
        parse_event(PAYLOAD, sign(PAYLOAD, SECRET, NOW + 100), SECRET, guard, now=NOW + 100)
    assert err.value.code == "replayed"
    # Outside the window the old signature is stale anyway, and the guard has forgotten the id.
    with pytest.raises(WebhookVerificationError) as err:
        parse_event(PAYLOAD, header, SECRET, guard, now=NOW + 301)
    assert err.value.code == "stale_timestamp"
    assert not guard.seen("evt_1", NOW + 301)


# -- sender ----------------------------------------------------------------------------------

def make_sender(responses, *, max_attempts=4, received=None):
    """A sender whose transport answers with the given status codes (or raises for None)."""
    answers = iter(responses)
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if received is not None:
            received.append(request)
        status = next(answers)
        if status is None:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status)

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    sender = WebhookSender("https://shop.example/hooks", SECRET, client=client, max_attempts=max_attempts,
                           base_delay=1.0, max_delay=5.0, sleep=fake_sleep, clock=lambda: NOW)
    return sender, sleeps


def test_sender_retries_then_succeeds_with_valid_signatures():
    received: list[httpx.Request] = []
    sender, sleeps = make_sender([500, None, 503, 200], received=received)
    event = {"id": "evt_9", "type": "payment.captured", "data": {}}
    result = run(sender.send(event))
    assert (result.delivered, result.attempts, result.status_code) == (True, 4, 200)
    assert sleeps == [1.0, 2.0, 4.0]
    for request in received:
        assert parse_event(request.content, request.headers[SIGNATURE_HEADER], SECRET, now=NOW) == event


def test_sender_gives_up_after_max_attempts():
    sender, sleeps = make_sender([500, 500, 404, None, 200], max_attempts=4)
    result = run(sender.send({"id": "evt_9"}))
    assert (result.delivered, result.attempts, result.status_code) == (False, 4, None)
    assert "ConnectError" in result.error
    assert sleeps == [1.0, 2.0, 4.0]


def test_backoff_is_capped():
    sender, _ = make_sender([])
    assert [sender.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_sandbox_delivers_signed_webhooks():
    async def go():
        received: list[httpx.Request] = []
        sender, _ = make_sender([503, 200, 200], received=received)
        p = SandboxProvider(sender, clock=lambda: NOW)
        intent = await authorized(p, 1000)
        await p.drain()
        await p.capture(intent.id, idempotency_key="cap")
        await p.drain()
        guard = ReplayGuard()
        events = []
        for request in received[1:]:
            events.append(parse_event(request.content, request.headers[SIGNATURE_HEADER], SECRET, guard, now=NOW))
        assert [e["type"] for e in events] == ["payment.authorized", "payment.captured"]
        assert events[1]["data"]["object"]["captured"] == 1000
        assert OK not in b"".join(r.content for r in received).decode()
    run(go())
