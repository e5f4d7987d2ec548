"""Signed webhooks: signing, verifying, replay protection, and a retrying sender.

Wire format: the body is JSON bytes; the header is

    Bidcast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.".encode() + body)>

Several ``v1=`` entries may be present (e.g. while rotating secrets); one match is enough.

Receiving side, in order: ``verify`` (signature + timestamp within ``tolerance``), parse the
JSON, then ``ReplayGuard.check`` on the event id. A replayed id inside the window is rejected;
outside the window the timestamp check already rejects it. Note that the sender signs each
retry afresh (new ``t``) but keeps the event id, so a receiver that remembers an id and then
fails to process it would refuse the retry: call ``remember`` only once the event is handled,
and answer an already-seen id with 2xx so the sender stops retrying. The guard is replay
protection, not durable de-duplication; event handling should still be idempotent.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Bidcast-Signature"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(ValueError):
    """Codes: missing_signature, malformed_signature, bad_signature, stale_timestamp, replayed, invalid_payload."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def compute_signature(payload: bytes, timestamp: int, secret: str | bytes) -> str:
    return hmac.new(_key(secret), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str | bytes, timestamp: int) -> str:
    """The ``Bidcast-Signature`` header value for ``payload`` at ``timestamp``."""
    return f"t={int(timestamp)},v1={compute_signature(payload, int(timestamp), secret)}"


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def verify(
    payload: bytes,
    header: str | None,
    secret: str | bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> int:
    """Check ``header`` against ``payload``; return the signed timestamp or raise."""
    if not header:
        raise WebhookVerificationError("missing_signature", "No signature header.")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError("malformed_signature", "Timestamp is not an integer.") from None
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookVerificationError("malformed_signature", "Signature header needs t= and v1=.")
    expected = compute_signature(payload, timestamp, secret)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise WebhookVerificationError("bad_signature", "Signature does not match.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("stale_timestamp", "Timestamp outside the tolerance window.")
    return timestamp


class ReplayGuard:
    """Remembers event ids for ``window`` seconds and refuses to see them twice."""

    def __init__(self, window: int = DEFAULT_TOLERANCE) -> None:
        self.window = window
        self._seen: dict[str, float] = {}  # event id -> forget after

    def _prune(self, now: float) -> None:
        for event_id in [e for e, until in self._seen.items() if until <= now]:
            del self._seen[event_id]

    def seen(self, event_id: str, now: float) -> bool:
        self._prune(now)
        return event_id in self._seen

    def remember(self, event_id: str, now: float) -> None:
        self._seen[event_id] = now + self.window

    def check(self, event_id: str, now: float) -> None:
        """Raise ``replayed`` if the id was seen inside the window; otherwise remember it."""
        if self.seen(event_id, now):
            raise WebhookVerificationError("replayed", f"Event {event_id} was already received.")
        self.remember(event_id, now)


def parse_event(
    payload: bytes,
    header: str | None,
    secret: str | bytes,
    guard: ReplayGuard | None = None,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """Verify, decode, and (with a guard) refuse replays. Returns the event dict."""
    now = time.time() if now is None else now
    verify(payload, header, secret, now, tolerance)
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("invalid_payload", "Body is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise WebhookVerificationError("invalid_payload", "Event has no id.")
    if guard is not None:
        guard.check(event["id"], now)
    return event


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    delivered: bool
    attempts: int
    status_code: int | None  # of the last response, None if the last attempt had no response
    error: str | None = None


class WebhookSender:
    """POSTs signed events to ``url``, retrying with exponential backoff on errors and non-2xx.

    Delay before retry n (1-based) is ``min(base_delay * 2**(n-1), max_delay)``. Each attempt
    is signed with the current time. Never raises for delivery failures: returns ``Delivery``.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        client: httpx.AsyncClient | None = None,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url
        self._secret = secret
        self._client = client
        self._owned: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock

    def delay(self, retry: int) -> float:
        return min(self.base_delay * 2 ** (retry - 1), self.max_delay)

    async def send(self, event: dict[str, Any]) -> Delivery:
        if self._client is not None:
            return await self._send(self._client, event)
        return await self._send(self._own_client(), event)

    def _own_client(self) -> httpx.AsyncClient:
        """One keep-alive client per event loop: a client per event cost a TLS context and a new
        connection each time (most of the payment path's CPU in the checkout benchmark)."""
        loop = asyncio.get_running_loop()
        if self._owned is None or self._owned[0] is not loop or self._owned[1].is_closed:
            self._owned = (loop, httpx.AsyncClient(timeout=self.timeout))
        return self._owned[1]

    async def aclose(self) -> None:
        if self._owned is not None:
            loop, client = self._owned
            self._owned = None
            if loop is asyncio.get_running_loop():
                await client.aclose()

    async def _send(self, client: httpx.AsyncClient, event: dict[str, Any]) -> Delivery:
        payload = encode_event(event)
        event_id = str(event.get("id"))
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                await self._sleep(self.delay(attempt - 1))
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(payload, self._secret, int(self._clock())),
            }
            try:
                response = await client.post(self.url, content=payload, headers=headers)
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return Delivery(event_id, True, attempt, status)
                error = f"HTTP {status}"
            log.warning("webhook %s attempt %d/%d failed: %s", event_id, attempt, self.max_attempts, error)
        log.error("webhook %s gave up after %d attempts", event_id, self.max_attempts)
        return Delivery(event_id, False, self.max_attempts, status, error)
