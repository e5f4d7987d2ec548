"""Seller payouts, balances and the platform's commission revenue, read from the ledger.

A payout takes money out of the shop's available balance. Two requests at once must not both
spend the same money: the available balance is read and the payout posted in one transaction
that holds the shop's row (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions start with
BEGIN IMMEDIATE and so run one at a time). The (shop, idempotency key) pair is unique: a retried
request answers with the first payout.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain import ledger
from ..domain.money import MoneyError, check_currency
from ..errors import AppError
from ..storage.ledger_store import account_balances, record
from ..storage.models import LedgerPosting, LedgerTransaction, Payout, Shop
from ..storage.notify import notify
from .accounts import Principal
from .orders import iso

SELLER_KINDS = {"seller_pending": "pending", "seller_available": "available", "seller_paid_out": "paid_out"}


def payout_view(p: Payout) -> dict:
    return {"id": p.id, "amount": {"amount": p.amount, "currency": p.currency}, "status": p.status,
            "idempotency_key": p.idempotency_key, "created_at": iso(p.created_at)}


class Payouts:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def _shop(self, who: Principal) -> Shop:
        async with self._sessions() as s:
            shop = (await s.execute(select(Shop).where(Shop.owner_id == who.id))).scalar_one_or_none()
        if shop is None or shop.status != "approved":
            raise AppError(403, "no_shop", "Payouts are for sellers with an approved shop.")
        return shop

    async def request(self, who: Principal, amount: int, currency: str, key: str) -> dict:
        try:
            currency = check_currency(currency)
        except MoneyError as e:
            raise AppError(422, e.code, e.message) from None
        shop = await self._shop(who)
        try:
            async with self._sessions.begin() as s:
                await s.execute(select(Shop.id).where(Shop.id == shop.id).with_for_update())
                prior = await self._by_key(s, shop.id, key)
                if prior is not None:
                    return self._replay(prior, amount, currency)
                available = await _balance(s, str(ledger.seller_available(shop.id)), currency)
                payout = Payout(shop_id=shop.id, requested_by=who.id, idempotency_key=key,
                                amount=amount, currency=currency, status="paid_out")
                s.add(payout)
                await s.flush()
                try:
                    tx = ledger.payout(f"shop{shop.id}-{payout.id}", shop.id, amount, currency, available)
                except ledger.LedgerError as e:
                    raise AppError(409, e.code, e.message, available=max(available, 0)) from None
                await record(s, tx)
                notify(s, who.id, "payout", f"Payout of {amount / 100:.2f} {currency} sent",
                       "It reaches your bank account in 1-3 business days.", link="/seller/balance")
                return {"payout": payout_view(payout), "replayed": False}
        except IntegrityError:  # the same key, at the same moment, in another request
            async with self._sessions() as s:
                prior = await self._by_key(s, shop.id, key)
            if prior is None:
                raise
            return self._replay(prior, amount, currency)

    @staticmethod
    async def _by_key(s, shop_id: int, key: str) -> Payout | None:  # noqa: ANN001
        return (await s.execute(select(Payout).where(Payout.shop_id == shop_id,
                                                     Payout.idempotency_key == key))).scalar_one_or_none()

    @staticmethod
    def _replay(prior: Payout, amount: int, currency: str) -> dict:
        if (prior.amount, prior.currency) != (amount, currency):
            raise AppError(409, "idempotency_key_reused", "This key was used for a different payout.")
        return {"payout": payout_view(prior), "replayed": True}

    async def list(self, who: Principal, limit: int = 100) -> list[dict]:
        shop = await self._shop(who)
        async with self._sessions() as s:
            rows = (await s.execute(select(Payout).where(Payout.shop_id == shop.id)
                                    .order_by(Payout.id.desc()).limit(limit))).scalars()
            return [payout_view(p) for p in rows]

    async def ledger(self, who: Principal, limit: int = 50) -> dict:
        """Pending / available / paid out per currency, and the shop's latest ledger entries."""
        shop = await self._shop(who)
        mine = {str(getattr(ledger, f"seller_{k}")(shop.id)): v for k, v in
                (("pending", "pending"), ("available", "available"), ("paid_out", "paid_out"))}
        async with self._sessions() as s:
            rows = (await s.execute(
                select(LedgerPosting.account, LedgerPosting.currency, func.sum(LedgerPosting.amount))
                .where(LedgerPosting.account.in_(list(mine)))
                .group_by(LedgerPosting.account, LedgerPosting.currency))).all()
            entries = (await s.execute(
                select(LedgerTransaction, LedgerPosting)
                .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
                .where(LedgerTransaction.shop_id == shop.id, LedgerPosting.account.in_(list(mine)))
                .order_by(LedgerTransaction.created_at.desc(), LedgerPosting.id.desc()).limit(limit))).all()
        balance: dict[str, dict[str, int]] = {}
        for account, currency, total in rows:
            balance.setdefault(currency, {"pending": 0, "available": 0, "paid_out": 0})[mine[account]] = int(total)
        return {"shop_id": shop.id, "balance": balance, "entries": [
            {"transaction_id": tx.id, "kind": tx.kind, "reference": tx.reference, "account": mine[p.account],
             "amount": {"amount": p.amount, "currency": p.currency}, "at": iso(tx.created_at)}
            for tx, p in entries]}

    async def commission_revenue(self) -> dict[str, int]:
        async with self._sessions() as s:
            found = await account_balances(s, str(ledger.PLATFORM_COMMISSION))
        return {currency: amount for (account, currency), amount in found.items()
                if account == str(ledger.PLATFORM_COMMISSION)}


async def _balance(s, account: str, currency: str) -> int:  # noqa: ANN001
    total = await s.scalar(select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
        LedgerPosting.account == account, LedgerPosting.currency == currency))
    return int(total or 0)
