"""Where the sandbox provider keeps its records: in memory (unit tests) or in the database.

The sandbox plays the card network, so its database tables (sandbox_*) are its own and separate
from Bidcast's `payments`: with the database store every worker process sees the same intents,
and a refund after a restart finds the payment it refunds. Each provider operation runs in one
`unit()` (one transaction holding the intent row), so two processes cannot both refund the
last euro of an intent. Outcomes are stored as plain dicts (`outcome_to_dict`), identical in both
stores, which keeps the logic in sandbox.py one code path.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..storage.models import (
    SandboxCard,
    SandboxEvent,
    SandboxIdempotency,
    SandboxIntent,
    SandboxRefund,
)
from .provider import Intent, PaymentError, Refund

INTENT_FIELDS = ("id", "amount", "currency", "status", "reference", "captured", "refunded",
                 "decline_code", "last4", "created")


def outcome_to_dict(outcome: Intent | Refund | PaymentError) -> dict[str, Any]:
    if isinstance(outcome, Intent):
        return {"kind": "intent", "data": outcome.as_dict()}
    if isinstance(outcome, Refund):
        return {"kind": "refund", "data": outcome.as_dict()}
    return {"kind": "error", "code": outcome.code, "message": outcome.message,
            "intent": outcome.intent.as_dict() if outcome.intent else None}


def outcome_from_dict(d: dict[str, Any]) -> Intent | Refund | PaymentError:
    if d["kind"] == "intent":
        return Intent(**d["data"])
    if d["kind"] == "refund":
        return Refund(**d["data"])
    return PaymentError(d["code"], d["message"], intent=Intent(**d["intent"]) if d["intent"] else None)


class Unit(Protocol):
    async def intent(self, intent_id: str) -> Intent | None: ...
    async def save_intent(self, intent: Intent) -> None: ...
    async def card(self, token: str) -> tuple[str, str] | None: ...  # (last4, behaviour)
    async def save_card(self, token: str, last4: str, brand: str, behaviour: str) -> None: ...
    async def replay(self, key: str) -> tuple[str, dict[str, Any]] | None: ...
    async def remember(self, key: str, fingerprint: str, outcome: dict[str, Any]) -> None: ...
    async def save_refund(self, refund: Refund) -> None: ...
    async def emit(self, event: dict[str, Any]) -> None: ...


class MemoryStore:
    """One process's dicts; a lock stands in for the database's transaction."""

    def __init__(self) -> None:
        self.intents: dict[str, Intent] = {}
        self.cards: dict[str, tuple[str, str, str]] = {}
        self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
        self.refunds: dict[str, Refund] = {}
        self.events: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore({self.intents!r}, {self.cards!r}, {self.idempotency!r}, {self.refunds!r})"

    @asynccontextmanager
    async def unit(self, intent_id: str | None = None) -> AsyncIterator[_MemoryUnit]:
        async with self._lock:
            unit = _MemoryUnit(self)
            yield unit
            self.events.extend(unit.emitted)
        self.on_commit(unit.emitted)

    def on_commit(self, events: list[dict[str, Any]]) -> None:
        """Replaced by the provider: deliver events once they are stored."""


class _MemoryUnit:
    def __init__(self, store: MemoryStore) -> None:
        self.s = store
        self.emitted: list[dict[str, Any]] = []

    async def intent(self, intent_id: str) -> Intent | None:
        return self.s.intents.get(intent_id)

    async def save_intent(self, intent: Intent) -> None:
        self.s.intents[intent.id] = intent

    async def card(self, token: str) -> tuple[str, str] | None:
        found = self.s.cards.get(token)
        return (found[0], found[2]) if found else None

    async def save_card(self, token: str, last4: str, brand: str, behaviour: str) -> None:
        self.s.cards[token] = (last4, brand, behaviour)

    async def replay(self, key: str) -> tuple[str, dict[str, Any]] | None:
        return self.s.idempotency.get(key)

    async def remember(self, key: str, fingerprint: str, outcome: dict[str, Any]) -> None:
        self.s.idempotency[key] = (fingerprint, outcome)

    async def save_refund(self, refund: Refund) -> None:
        self.s.refunds[refund.id] = refund

    async def emit(self, event: dict[str, Any]) -> None:
        self.emitted.append(event)


class DatabaseStore:
    """The sandbox's tables in Bidcast's database (standing in for the network's own)."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions

    @asynccontextmanager
    async def unit(self, intent_id: str | None = None) -> AsyncIterator[_DatabaseUnit]:
        """One transaction; a concurrent twin with the same idempotency key loses on the primary
        key and is retried by the provider, which then finds the stored outcome."""
        try:
            async with self.sessions.begin() as s:
                if intent_id is not None:
                    # Lock the intent before reading the idempotency record: a same-key twin then
                    # waits here and finds the first one's outcome instead of acting on new state.
                    await s.get(SandboxIntent, intent_id, with_for_update=True)
                unit = _DatabaseUnit(s, intent_id)
                yield unit
        except IntegrityError:
            raise RetryUnit() from None
        self.on_commit(unit.emitted)

    def on_commit(self, events: list[dict[str, Any]]) -> None:
        """Replaced by the provider: deliver events once they are stored."""


class RetryUnit(Exception):
    """A concurrent operation with the same key won; run the operation again."""


class _DatabaseUnit:
    def __init__(self, s, lock_id: str | None) -> None:
        self.s = s
        self.lock_id = lock_id
        self.emitted: list[dict[str, Any]] = []

    async def intent(self, intent_id: str) -> Intent | None:
        row = await self.s.get(SandboxIntent, intent_id, with_for_update=intent_id == self.lock_id,
                               populate_existing=True)
        return Intent(**{f: getattr(row, f) for f in INTENT_FIELDS}) if row else None

    async def save_intent(self, intent: Intent) -> None:
        await self.s.merge(SandboxIntent(**intent.as_dict()))

    async def card(self, token: str) -> tuple[str, str] | None:
        row = await self.s.get(SandboxCard, token)
        return (row.last4, row.behaviour) if row else None

    async def save_card(self, token: str, last4: str, brand: str, behaviour: str) -> None:
        self.s.add(SandboxCard(token=token, last4=last4, brand=brand, behaviour=behaviour))

    async def replay(self, key: str) -> tuple[str, dict[str, Any]] | None:
        row = (await self.s.execute(select(SandboxIdempotency).where(SandboxIdempotency.key == key))).scalar_one_or_none()
        return (row.fingerprint, row.outcome) if row else None

    async def remember(self, key: str, fingerprint: str, outcome: dict[str, Any]) -> None:
        self.s.add(SandboxIdempotency(key=key, fingerprint=fingerprint, outcome=outcome))
        await self.s.flush()

    async def save_refund(self, refund: Refund) -> None:
        self.s.add(SandboxRefund(**refund.as_dict()))

    async def emit(self, event: dict[str, Any]) -> None:
        self.s.add(SandboxEvent(id=event["id"], type=event["type"], payload=event, created=event["created"],
                                delivered=False, attempts=0, next_attempt_at=0))
        self.emitted.append(event)
