"""Persistence of flash-sale purchases: one transaction decides and writes a whole batch.

The transaction locks the sale's row first (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
`BEGIN IMMEDIATE` already holds the database's write lock), reads the committed `sold` and
the batch's buyers' units, decides every attempt with the pure rules, then writes: one guarded
`UPDATE flash_sales SET sold = sold + n WHERE sold + n <= quantity`, the buyers' rows, and an
order (with its line, first audit event and notification) per accepted attempt. Every process
that sells the same sale goes through the same lock, so the decisions are made on the truth,
and the CHECK constraints refuse an oversell even if a decision were wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.flash_sale import Accepted, Attempt, Decision, SaleTerms, decide_batch
from .models import (
    FlashBuyer,
    FlashPurchase,
    FlashSale,
    Order,
    OrderEvent,
    OrderLine,
    Product,
)
from .notify import notify


class SaleChanged(Exception):
    """The guarded UPDATE matched nothing: the sale moved on under us (retry the batch)."""


def to_dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def terms_of(sale: FlashSale) -> SaleTerms:
    return SaleTerms(quantity=sale.quantity, per_buyer_limit=sale.per_buyer_limit,
                     starts_at=sale.starts_at.timestamp(), ends_at=sale.ends_at.timestamp(),
                     host_id=sale.host_id, seller_id=sale.seller_id)


@dataclass(slots=True)
class Job:
    """One purchase attempt as the store sees it."""
    buyer_id: int
    quantity: int
    key: str


@dataclass(slots=True)
class Outcome:
    decision: Decision | None     # None: a replay of an earlier accepted purchase
    order_id: int | None = None
    quantity: int = 0
    replayed: bool = False


@dataclass(slots=True)
class BatchResult:
    outcomes: list[Outcome]
    sold: int
    version: int
    ended: bool
    bought: dict[int, int]        # units held after the batch, for every buyer in it


@dataclass(frozen=True, slots=True)
class SaleInfo:
    """What an order needs to know about the sale (fixed at launch)."""
    sale_id: int
    shop_id: int
    seller_id: int
    product_id: int
    title: str
    currency: str
    sale_price: int


class FlashStore:
    def __init__(self, sessions: async_sessionmaker, payment_window_s: float) -> None:
        self._sessions = sessions
        self.payment_window_s = payment_window_s

    async def load(self, sale_id: int) -> FlashSale | None:
        async with self._sessions() as s:
            return await s.get(FlashSale, sale_id)

    async def counts(self, sale_id: int) -> tuple[int, int, bool]:
        """(sold, version, ended) as committed: a cheap read for the in-process fast path."""
        async with self._sessions() as s:
            sold, version, status = (await s.execute(select(
                FlashSale.sold, FlashSale.version, FlashSale.status).where(FlashSale.id == sale_id))).one()
        return sold, version, status != "running"

    async def keys_of(self, sale_id: int, buyer_id: int) -> dict[str, tuple[int, int]]:
        """The buyer's accepted purchase keys in this sale: key -> (order id, quantity)."""
        async with self._sessions() as s:
            return {k: (o, q) for k, o, q in await s.execute(
                select(FlashPurchase.idempotency_key, FlashPurchase.order_id, FlashPurchase.quantity)
                .where(FlashPurchase.sale_id == sale_id, FlashPurchase.buyer_id == buyer_id))}

    async def all_keys(self, sale_id: int) -> dict[tuple[int, str], tuple[int, int]]:
        """Every accepted purchase key of the sale: (buyer, key) -> (order id, quantity)."""
        async with self._sessions() as s:
            return {(b, k): (o, q) for b, k, o, q in await s.execute(
                select(FlashPurchase.buyer_id, FlashPurchase.idempotency_key, FlashPurchase.order_id,
                       FlashPurchase.quantity).where(FlashPurchase.sale_id == sale_id))}

    async def commit_batch(self, info: SaleInfo, terms: SaleTerms, jobs: list[Job],
                           now: float) -> BatchResult:
        sid = info.sale_id
        ids = {j.buyer_id for j in jobs}
        async with self._sessions.begin() as s:
            sold, version, status = (await s.execute(
                select(FlashSale.sold, FlashSale.version, FlashSale.status)
                .where(FlashSale.id == sid).with_for_update())).one()
            ended = status != "running"
            prior = {(b, k): (o, q) for b, k, o, q in await s.execute(
                select(FlashPurchase.buyer_id, FlashPurchase.idempotency_key, FlashPurchase.order_id,
                       FlashPurchase.quantity)
                .where(FlashPurchase.sale_id == sid, FlashPurchase.buyer_id.in_(ids)))}
            bought = {b: u for b, u in await s.execute(
                select(FlashBuyer.buyer_id, FlashBuyer.units)
                .where(FlashBuyer.sale_id == sid, FlashBuyer.buyer_id.in_(ids)))}
            fresh = [j for j in jobs if (j.buyer_id, j.key) not in prior]
            decisions, new_sold, changed = decide_batch(
                terms, ended, sold, bought, [Attempt(j.buyer_id, j.quantity) for j in fresh], now)
            accepted = [(j, d) for j, d in zip(fresh, decisions, strict=True) if isinstance(d, Accepted)]
            order_ids: list[int] = []
            if accepted:
                n = new_sold - sold
                row = (await s.execute(
                    update(FlashSale).where(FlashSale.id == sid, FlashSale.status == "running",
                                            FlashSale.sold + n <= FlashSale.quantity)
                    .values(sold=FlashSale.sold + n, version=FlashSale.version + 1)
                    .returning(FlashSale.sold, FlashSale.version))).first()
                if row is None or row[0] != new_sold:
                    raise SaleChanged(f"flash sale {sid} moved on")
                sold, version = new_sold, row[1]
                await self._write_buyers(s, sid, terms.per_buyer_limit, bought, changed)
                order_ids = await self._write_orders(s, info, accepted, now)
        outcomes: list[Outcome] = []
        it_dec = iter(decisions)
        it_ord = iter(order_ids)
        for j in jobs:
            p = prior.get((j.buyer_id, j.key))
            if p is not None:
                outcomes.append(Outcome(None, p[0], p[1], replayed=True))
                continue
            d = next(it_dec)
            outcomes.append(Outcome(d, next(it_ord), d.quantity) if isinstance(d, Accepted) else Outcome(d))
        after = {b: changed.get(b, bought.get(b, 0)) for b in ids}
        return BatchResult(outcomes, sold, version, ended, after)

    @staticmethod
    async def _write_buyers(s, sid: int, cap: int, bought: dict[int, int],
                            changed: dict[int, int]) -> None:
        known = [{"b_sale": sid, "b_buyer": b, "b_units": u} for b, u in changed.items() if b in bought]
        new = [{"sale_id": sid, "buyer_id": b, "units": u, "cap": cap}
               for b, u in changed.items() if b not in bought]
        t = FlashBuyer.__table__
        if known:  # Core executemany: the rows are locked by the sale's lock held above
            await s.execute(t.update().where(t.c.sale_id == bindparam("b_sale"),
                                             t.c.buyer_id == bindparam("b_buyer"))
                            .values(units=bindparam("b_units")), known)
        if new:  # a racing insert of the same (sale, buyer) would hit uq_flash_buyers
            await s.execute(t.insert(), new)

    async def _write_orders(self, s, info: SaleInfo, accepted: list, now: float) -> list[int]:
        at, pay_by = to_dt(now), to_dt(now + self.payment_window_s)
        rows = [dict(buyer_id=j.buyer_id, seller_id=info.seller_id, shop_id=info.shop_id,
                     product_id=info.product_id, kind="flash", flash_sale_id=info.sale_id,
                     amount=info.sale_price * d.quantity, currency=info.currency,
                     status="awaiting_payment", created_at=at, pay_by=pay_by) for j, d in accepted]
        orders = Order.__table__
        ids = list((await s.execute(insert(orders).returning(orders.c.id, sort_by_parameter_order=True),
                                    rows)).scalars())
        minutes = max(1, round(self.payment_window_s / 60))
        await s.execute(insert(OrderLine.__table__), [dict(
            order_id=o, product_id=info.product_id, title=info.title, unit_price=info.sale_price,
            quantity=d.quantity, currency=info.currency) for o, (_, d) in zip(ids, accepted, strict=True)])
        await s.execute(insert(OrderEvent.__table__), [dict(
            order_id=o, kind="created", created_at=at,
            detail=f"flash sale #{info.sale_id}: {d.quantity} × {info.sale_price} {info.currency}; "
                   f"pay within {minutes} min") for o, (_, d) in zip(ids, accepted, strict=True)])
        await s.execute(insert(FlashPurchase.__table__), [dict(
            sale_id=info.sale_id, buyer_id=j.buyer_id, idempotency_key=j.key, quantity=d.quantity,
            order_id=o, created_at=at) for o, (j, d) in zip(ids, accepted, strict=True)])
        for o, (j, _) in zip(ids, accepted, strict=True):
            notify(s, j.buyer_id, "flash_sale", f"You got {info.title}",
                   f"Pay within {minutes} min to keep it.", link=f"/me/orders#order-{o}")
        return ids


async def release_units(s, sale_id: int, buyer_id: int, quantity: int) -> str:
    """An unpaid flash order was cancelled inside session `s`: its units go back to the sale
    while it runs (and the buyer's count drops), else to the product's stock. Returns where.

    Races with the sale's end are settled by the sale's row: the end's guarded UPDATE and this
    one lock it in turn, so the units are counted either in `sold` (and returned with the end's
    unsold units) or given back here, never both."""
    row = (await s.execute(update(FlashSale).where(
        FlashSale.id == sale_id, FlashSale.status == "running", FlashSale.sold >= quantity)
        .values(sold=FlashSale.sold - quantity, version=FlashSale.version + 1)
        .returning(FlashSale.id))).first()
    if row is not None:
        await s.execute(update(FlashBuyer).where(
            FlashBuyer.sale_id == sale_id, FlashBuyer.buyer_id == buyer_id, FlashBuyer.units >= quantity)
            .values(units=FlashBuyer.units - quantity))
        return "sale"
    product_id = (await s.execute(select(FlashSale.product_id).where(FlashSale.id == sale_id))).scalar_one()
    await s.execute(update(Product).where(Product.id == product_id).values(stock=Product.stock + quantity))
    return "stock"
