"""Accounts: registration, login with argon2 hashes, tokens for sessions and API clients."""
from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError, not_found
from ..storage.db import Reader
from ..storage.models import AuthToken, User, utcnow
from .batched_lookup import BatchedLookup

ROLES = frozenset({"buyer", "seller", "host", "admin"})
SELF_SERVICE_ROLES = frozenset({"buyer", "host"})
SESSION_TTL = timedelta(days=14)
API_TOKEN_TTL = timedelta(days=90)
_hasher = PasswordHasher()
# A constant hash so that a login for an unknown e-mail costs as much as a real one.
_DUMMY_HASH = _hasher.hash("not a real password")


# Argon2 is deliberately slow (~0.1-0.3 s): run it in threads, a few at a time, so logins never
# stall the event loop that runs the auction writers and the sockets.
HASHING_AT_ONCE = 2


async def _hash(gate: asyncio.Semaphore, password: str) -> str:
    async with gate:
        return await asyncio.to_thread(_hasher.hash, password)


async def _verify(gate: asyncio.Semaphore, hashed: str, password: str) -> bool:
    async with gate:
        try:
            return await asyncio.to_thread(_hasher.verify, hashed, password)
        except (VerifyMismatchError, InvalidHashError):
            return False


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    email: str
    display_name: str
    roles: frozenset[str]
    banned: bool

    def has(self, role: str) -> bool:
        return role in self.roles


def principal_of(user: User) -> Principal:
    roles = frozenset(r for r in user.roles.split(",") if r)
    return Principal(user.id, user.email, user.display_name, roles, user.banned)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Use cases for people and their credentials. Caches token look-ups for a few seconds."""

    CACHE_SECONDS = 5.0

    def __init__(self, sessions: async_sessionmaker, reader: Reader | None = None) -> None:
        self._sessions = sessions
        self._reader = reader or Reader(sessions)
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._banned: dict[int, tuple[float, bool]] = {}
        self._ban_lookups: BatchedLookup[int, bool] = BatchedLookup(self._load_bans, False)
        self._generation = 0  # bumped when the caches are dropped: a look-up then in flight is not kept
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)

    async def register(self, email: str, password: str, display_name: str,
                       roles: set[str] | None = None) -> Principal:
        roles = set(roles or {"buyer"}) | {"buyer"}
        if not roles <= SELF_SERVICE_ROLES:
            raise AppError(422, "invalid_role", "You may sign up as buyer and/or host only.")
        user = User(email=email.lower(), display_name=display_name,
                    password_hash=await _hash(self._hashing, password), roles=",".join(sorted(roles)))
        try:
            async with self._sessions.begin() as s:
                s.add(user)
        except IntegrityError:
            raise AppError(409, "email_taken", "An account with this e-mail already exists.") from None
        return principal_of(user)

    async def login(self, email: str, password: str, kind: str = "session") -> tuple[str, Principal]:
        async with self._sessions() as s:
            user = (await s.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()
        if not await _verify(self._hashing, user.password_hash if user else _DUMMY_HASH, password):
            user = None
        if user is None:
            raise AppError(401, "invalid_credentials", "E-mail or password is wrong.")
        token = secrets.token_urlsafe(32)
        ttl = SESSION_TTL if kind == "session" else API_TOKEN_TTL
        async with self._sessions.begin() as s:
            s.add(AuthToken(user_id=user.id, token_hash=hash_token(token), kind=kind,
                            expires_at=utcnow() + ttl))
        return token, principal_of(user)

    async def logout(self, token: str) -> None:
        h = hash_token(token)
        async with self._sessions.begin() as s:
            await s.execute(update(AuthToken).where(AuthToken.token_hash == h)
                            .values(revoked_at=utcnow()))
        self._cache.pop(h, None)

    async def authenticate(self, token: str) -> Principal | None:
        h = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit and hit[0] > now:
            return hit[1]
        async with self._sessions() as s:
            row = (await s.execute(
                select(User).join(AuthToken, AuthToken.user_id == User.id)
                .where(AuthToken.token_hash == h, AuthToken.revoked_at.is_(None),
                       AuthToken.expires_at > utcnow()))).scalar_one_or_none()
        principal = principal_of(row) if row else None
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[h] = (now + self.CACHE_SECONDS, principal)
        return principal

    def forget_cached(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._banned.clear()

    async def is_banned(self, user_id: int) -> bool:
        """A fresh look (cached a few seconds) for sockets that authenticated long ago; the
        misses of one moment share one query (services/batched_lookup.py)."""
        hit = self._banned.get(user_id)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return await self._ban_lookups.get(user_id)

    async def _load_bans(self, user_ids: list[int]) -> dict[int, bool]:
        generation = self._generation
        rows = await self._reader.rows(select(User.id, User.banned).where(User.id.in_(user_ids)))
        found = {int(uid): bool(banned) for uid, banned in rows}
        if generation != self._generation:
            return found
        if len(self._banned) > 100_000:
            self._banned.clear()
        until = time.monotonic() + self.CACHE_SECONDS
        for uid in user_ids:
            self._banned[uid] = (until, found.get(uid, False))
        return found

    async def get(self, user_id: int) -> Principal:
        async with self._sessions() as s:
            user = await s.get(User, user_id)
        if user is None:
            raise not_found("User")
        return principal_of(user)

    async def display_names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        async with self._sessions() as s:
            rows = await s.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
            return {i: n for i, n in rows}

    async def set_banned(self, user_id: int, banned: bool) -> Principal:
        return await self._change(user_id, lambda u: setattr(u, "banned", banned))

    async def grant_role(self, user_id: int, role: str) -> Principal:
        if role not in ROLES:
            raise AppError(422, "invalid_role", f"Unknown role {role!r}.")

        def add(u: User) -> None:
            u.roles = ",".join(sorted(set(u.roles.split(",")) | {role}))
        return await self._change(user_id, add)

    async def _change(self, user_id: int, fn) -> Principal:  # noqa: ANN001
        async with self._sessions.begin() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise not_found("User")
            fn(user)
            p = principal_of(user)
        self.forget_cached()
        return p

    async def create_admin(self, email: str, password: str, display_name: str = "Admin") -> Principal:
        async with self._sessions.begin() as s:
            user = (await s.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()
            if user is None:
                user = User(email=email.lower(), display_name=display_name,
                            password_hash=_hasher.hash(password), roles="admin,buyer")
                s.add(user)
            else:
                user.password_hash = _hasher.hash(password)
                user.roles = ",".join(sorted(set(user.roles.split(",")) | {"admin"}))
            await s.flush()
            return principal_of(user)
