"""Ledger persistence: a transaction and its postings are written together, once."""
from __future__ import annotations

from sqlalchemy import func, insert, select

from ..domain.ledger import Transaction
from .models import LedgerPosting, LedgerTransaction


async def record(s, tx: Transaction) -> None:  # noqa: ANN001
    """Inside the caller's transaction; the primary key on the id refuses a second posting."""
    s.add(LedgerTransaction(id=tx.id, kind=tx.kind.value, reference=tx.reference, shop_id=tx.shop_id))
    await s.flush()
    await s.execute(insert(LedgerPosting), [
        {"transaction_id": tx.id, "account": str(p.account), "amount": p.amount, "currency": p.currency}
        for p in tx.postings])


async def account_balances(s, prefix: str | None = None) -> dict[tuple[str, str], int]:  # noqa: ANN001
    """(account, currency) → balance: the sum of its postings."""
    q = select(LedgerPosting.account, LedgerPosting.currency, func.sum(LedgerPosting.amount)) \
        .group_by(LedgerPosting.account, LedgerPosting.currency)
    if prefix:
        q = q.where(LedgerPosting.account.like(f"{prefix}%"))
    return {(a, c): int(total) for a, c, total in await s.execute(q)}
