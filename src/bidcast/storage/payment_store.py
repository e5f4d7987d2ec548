"""Reads the refund and return services need: an order's ledger transactions and its capture."""
from __future__ import annotations

from sqlalchemy import select

from ..domain.ledger import Account, Posting, Transaction, TxKind
from .models import LedgerPosting, LedgerTransaction, Payment


async def order_transactions(s, order_ref: str) -> list[Transaction]:
    """Every ledger transaction referencing `order_ref`, rebuilt as domain objects."""
    rows = (await s.execute(
        select(LedgerTransaction, LedgerPosting)
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.reference == order_ref)
        .order_by(LedgerTransaction.created_at, LedgerPosting.id))).all()
    grouped: dict[str, tuple[LedgerTransaction, list[Posting]]] = {}
    for tx, p in rows:
        grouped.setdefault(tx.id, (tx, []))[1].append(Posting(Account.parse(p.account), p.amount, p.currency))
    return [Transaction(tx.id, TxKind(tx.kind), tx.reference, tuple(ps), tx.shop_id)
            for tx, ps in grouped.values()]


async def captured_payment(s, order_id: int) -> Payment | None:
    """The order's succeeded payment (there is at most one: the ledger posts order_paid once)."""
    return (await s.execute(select(Payment).where(
        Payment.order_id == order_id, Payment.status == "succeeded").order_by(Payment.id).limit(1))
    ).scalar_one_or_none()
