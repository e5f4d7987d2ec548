"""Auction leases: which process is the one writer of an auction.

A lease row names its owner, a fencing `epoch` and an expiry (epoch milliseconds). Taking a
lease is one guarded UPDATE (free, expired or already ours) that bumps the epoch, or an INSERT
for an auction that never had one; the primary key lets exactly one racer win. The owner renews
its leases in one statement a second, and every commit of its writer re-checks (owner, epoch)
on the lease row inside the same transaction (`fence`), so a deposed owner can never commit:
after a takeover its epoch no longer matches, whatever its clock says.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .models import Auction, AuctionLease


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Lease:
    auction_id: int
    owner: str
    epoch: int
    expires_at_ms: int

    def live(self, at_ms: int | None = None) -> bool:
        return self.expires_at_ms > (now_ms() if at_ms is None else at_ms)


@dataclass(frozen=True, slots=True)
class Fence:
    """Carried into the writer's commits: the commit happens only if this lease still holds."""
    owner: str
    epoch: int
    ttl_ms: int


class LeaseStore:
    def __init__(self, sessions: async_sessionmaker, autocommit: AsyncEngine | None = None) -> None:
        self._sessions = sessions
        # Renewals as single autocommit statements (PostgreSQL): the lease row's lock is then
        # held for the statement only, not across the BEGIN ... COMMIT round trips of a busy
        # loop, and every fenced group commit of the auction waits on that lock.
        self._autocommit = autocommit

    async def get(self, auction_id: int) -> Lease | None:
        async with self._sessions() as s:
            row = await s.get(AuctionLease, auction_id)
            return None if row is None else Lease(row.auction_id, row.owner, row.epoch, row.expires_at_ms)

    async def acquire(self, auction_id: int, owner: str, ttl_ms: int) -> int | None:
        """Take the lease if it is free, expired or ours; returns the new epoch, else None."""
        now = now_ms()
        async with self._sessions.begin() as s:
            res = await s.execute(
                update(AuctionLease)
                .where(AuctionLease.auction_id == auction_id,
                       or_(AuctionLease.expires_at_ms <= now, AuctionLease.owner == owner))
                .values(owner=owner, epoch=AuctionLease.epoch + 1, expires_at_ms=now + ttl_ms)
                .returning(AuctionLease.epoch))
            epoch = res.scalar()
            if epoch is not None:
                return int(epoch)
            if await s.get(AuctionLease, auction_id) is not None:
                return None  # held by a live owner
        try:
            async with self._sessions.begin() as s:
                s.add(AuctionLease(auction_id=auction_id, owner=owner, epoch=1, expires_at_ms=now + ttl_ms))
            return 1
        except IntegrityError:
            return None  # another process inserted it first

    async def renew(self, owner: str, auction_ids: list[int], ttl_ms: int) -> set[int]:
        """Extend our leases; returns the ids still ours (the others were taken over)."""
        if not auction_ids:
            return set()
        q = (update(AuctionLease)
             .where(AuctionLease.owner == owner, AuctionLease.auction_id.in_(auction_ids))
             .values(expires_at_ms=now_ms() + ttl_ms).returning(AuctionLease.auction_id))
        if self._autocommit is not None:
            async with self._autocommit.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                return {int(r) for (r,) in await conn.execute(q)}
        async with self._sessions.begin() as s:
            return {int(r) for (r,) in await s.execute(q)}

    async def release(self, owner: str, auction_ids: list[int] | None = None) -> int:
        """Let the leases lapse at once (graceful hand-over); the epoch stays, so fences hold."""
        async with self._sessions.begin() as s:
            q = update(AuctionLease).where(AuctionLease.owner == owner)
            if auction_ids is not None:
                q = q.where(AuctionLease.auction_id.in_(auction_ids))
            return (await s.execute(q.values(expires_at_ms=0))).rowcount or 0

    async def orphaned(self) -> list[int]:
        """Running auctions whose lease is missing or lapsed: their owner is gone."""
        now = now_ms()
        async with self._sessions() as s:
            rows = await s.execute(
                select(Auction.id).outerjoin(AuctionLease, AuctionLease.auction_id == Auction.id)
                .where(Auction.status == "running",
                       or_(AuctionLease.auction_id.is_(None), AuctionLease.expires_at_ms <= now)))
            return [int(r) for (r,) in rows]

    async def forget_closed(self) -> None:
        async with self._sessions.begin() as s:
            await s.execute(delete(AuctionLease).where(and_(
                AuctionLease.expires_at_ms <= now_ms() - 3_600_000,
                AuctionLease.auction_id.in_(select(Auction.id).where(Auction.status == "closed")))))


async def check_fence(s: AsyncSession, auction_id: int, fence: Fence) -> bool:
    """Inside the writer's transaction: still (owner, epoch)? Renews the lease as a side effect.

    The UPDATE takes the lease row's lock, so a concurrent takeover either committed first (the
    re-checked WHERE no longer matches and we abort) or waits until this commit is done."""
    res = await s.execute(
        update(AuctionLease)
        .where(AuctionLease.auction_id == auction_id, AuctionLease.owner == fence.owner,
               AuctionLease.epoch == fence.epoch)
        .values(expires_at_ms=now_ms() + fence.ttl_ms))
    return res.rowcount == 1
