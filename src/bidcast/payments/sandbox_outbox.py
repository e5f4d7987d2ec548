"""Delivering the database sandbox's webhook events: an outbox, so a restart loses none.

Each event row is claimed with a guarded UPDATE before an attempt (only one process sends it at a
time), sent once, then marked delivered or given its next attempt time (exponential backoff up to
`max_delay`, at most `max_attempts` attempts). Freshly stored events are sent at once; a loop in
every process picks up the ones that are due (failed attempts, events of a crashed process).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..periodic import Periodic
from ..storage.models import SandboxEvent
from .webhooks import WebhookSender

log = logging.getLogger(__name__)
CLAIM_S = 30  # an attempt in flight keeps the event from other senders this long


class SandboxOutbox:
    def __init__(self, sessions: async_sessionmaker, url: str, secret: str, *, max_attempts: int = 8,
                 base_delay: float = 1.0, max_delay: float = 300.0, first_delay: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        self._sessions = sessions
        self._sender = WebhookSender(url, secret, max_attempts=1, timeout=10.0, clock=clock)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.first_delay = first_delay
        self._clock = clock
        self._periodic = Periodic(self.deliver_due, "sandbox webhook outbox")

    async def send(self, event: dict[str, Any]) -> bool:
        """Deliver a freshly stored event shortly (the provider calls this after each commit).

        Like a real provider, a little after the API call answered: sent at once, the webhook's
        own transactions would compete for the same rows with the request still settling the
        payment, and most would be answered "retry later" anyway."""
        if self.first_delay:
            await asyncio.sleep(self.first_delay)
        return await self._attempt(event)

    async def _attempt(self, event: dict[str, Any]) -> bool:
        """Try to deliver one stored event now."""
        now = int(self._clock())
        async with self._sessions.begin() as s:
            claimed = await s.execute(
                update(SandboxEvent)
                .where(SandboxEvent.id == event["id"], SandboxEvent.delivered.is_(False),
                       SandboxEvent.next_attempt_at <= now, SandboxEvent.attempts < self.max_attempts)
                .values(attempts=SandboxEvent.attempts + 1, next_attempt_at=now + CLAIM_S))
            if claimed.rowcount != 1:
                return False
            attempts = await s.scalar(select(SandboxEvent.attempts).where(SandboxEvent.id == event["id"]))
        result = await self._sender.send(event)
        delay = min(self.base_delay * 2 ** ((attempts or 1) - 1), self.max_delay)
        async with self._sessions.begin() as s:
            await s.execute(update(SandboxEvent).where(SandboxEvent.id == event["id"]).values(
                delivered=result.delivered,
                next_attempt_at=int(self._clock()) + (0 if result.delivered else int(delay))))
        return result.delivered

    async def deliver_due(self, limit: int = 50) -> int:
        now = int(self._clock())
        async with self._sessions() as s:
            rows = (await s.execute(
                select(SandboxEvent.payload)
                .where(SandboxEvent.delivered.is_(False), SandboxEvent.next_attempt_at <= now,
                       SandboxEvent.attempts < self.max_attempts)
                .order_by(SandboxEvent.created).limit(limit))).scalars().all()
        sent = 0
        for payload in rows:
            sent += await self._attempt(payload)
        return sent

    def start(self, every_s: float) -> None:
        self._periodic.start(every_s)

    async def stop(self) -> None:
        await self._periodic.stop()
        await self._sender.aclose()


def sandbox_for(settings, sessions: async_sessionmaker):
    """The sandbox provider a server runs: database-backed with its webhook outbox (default), or
    in memory (`BIDCAST_SANDBOX_STORE=memory`, one process only, webhooks not sent)."""
    from ..services.payment_webhooks import webhook_secret
    from .sandbox import SandboxProvider
    from .sandbox_store import DatabaseStore
    if settings.sandbox_store == "memory":
        return SandboxProvider()
    url = settings.payment_webhook_url or f"http://{settings.host}:{settings.port}/api/v1/payments/webhooks"
    outbox = SandboxOutbox(sessions, url, webhook_secret(settings.payment_webhook_secret,
                                                          settings.resolved_secret_key()))
    provider = SandboxProvider(outbox, store=DatabaseStore(sessions))
    provider.outbox = outbox  # type: ignore[attr-defined]  # started and stopped by the Container
    return provider
