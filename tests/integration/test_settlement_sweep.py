"""The settlement sweep against a real database, with the clock handed in: nothing happens before
its time, each order completes and releases once even with several sweeps at once (as with
several server processes), and an open return holds both back."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bidcast.domain import ledger
from bidcast.errors import AppError
from bidcast.services.settlement import Settlement
from bidcast.storage.db import create_engine, session_factory
from bidcast.storage.ledger_store import account_balances, record
from bidcast.storage.models import (
    Base,
    LedgerTransaction,
    Order,
    OrderEvent,
    Product,
    ReturnRequest,
    Shop,
    User,
    utcnow,
)

from .servers import IN_CI, create_pg_database, postgres_reachable

DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):  # noqa: ANN001
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sweep.db'}"
        return
    reason = postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    url, drop = create_pg_database()
    yield url
    drop()


async def setup(url: str):  # noqa: ANN201
    db = create_engine(url, synchronous="normal")
    async with db.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = session_factory(db)
    async with sessions.begin() as s:
        seller = User(email="s@x.test", display_name="s", password_hash="x")
        buyer = User(email="b@x.test", display_name="b", password_hash="x")
        s.add_all([seller, buyer])
        await s.flush()
        shop = Shop(owner_id=seller.id, name="shop", contact_email="s@x.test", status="approved")
        s.add(shop)
        await s.flush()
        product = Product(shop_id=shop.id, title="p", category="misc", condition="new", sku="p",
                          price_amount=10_000, currency="EUR", stock=0)
        s.add(product)
        await s.flush()
    return db, sessions, seller.id, buyer.id, shop.id, product.id


async def delivered_order(sessions, seller_id, buyer_id, shop_id, product_id, delivered_at) -> int:  # noqa: ANN001
    async with sessions.begin() as s:
        o = Order(buyer_id=buyer_id, seller_id=seller_id, shop_id=shop_id, product_id=product_id,
                  amount=10_000, currency="EUR", status="delivered", payment_state="paid",
                  fulfilment_state="delivered", delivered_at=delivered_at)
        s.add(o)
        await s.flush()
        await record(s, ledger.order_paid(f"order:{o.id}", shop_id, 10_000, "EUR", 200))
        return o.id


def test_sweeps_complete_and_release_once_at_their_time(database_url: str) -> None:
    async def main() -> None:
        db, sessions, seller, buyer, shop, product = await setup(database_url)
        t0 = utcnow()
        a = await delivered_order(sessions, seller, buyer, shop, product, t0)
        b = await delivered_order(sessions, seller, buyer, shop, product, t0)
        async with sessions.begin() as s:  # the buyer of b asked for a return, still open
            s.add(ReturnRequest(order_id=b, buyer_id=buyer, seller_id=seller, shop_id=shop,
                                status="requested", reason="broken", currency="EUR",
                                reply_by=t0 + timedelta(days=2)))
        sweeps = [Settlement(sessions, None, 7 * DAY, 10 * DAY) for _ in range(4)]  # type: ignore[arg-type]

        early = await sweeps[0].complete_due(t0 + timedelta(days=7) - timedelta(seconds=1))
        assert early == [] and await sweeps[0].release_due(t0 + timedelta(days=9)) == []

        window_over = t0 + timedelta(days=7, seconds=1)
        done = await asyncio.gather(*(sw.complete_due(window_over) for sw in sweeps))
        assert sorted(sum(done, [])) == [a]  # one sweep won; b waits for its return
        hold_over = t0 + timedelta(days=10, seconds=1)
        done = await asyncio.gather(*(sw.release_due(hold_over) for sw in sweeps))
        assert sorted(sum(done, [])) == [a]

        async with sessions() as s:
            orders = {o.id: o for o in (await s.execute(select(Order))).scalars()}
            assert (orders[a].status, orders[b].status) == ("completed", "delivered")
            assert orders[a].funds_released_at is not None and orders[b].funds_released_at is None
            kinds = list((await s.execute(select(OrderEvent.kind).where(OrderEvent.order_id == a)
                                          .order_by(OrderEvent.id))).scalars())
            assert kinds == ["completed", "funds_released"]
            released = await s.scalar(select(func.count()).select_from(LedgerTransaction)
                                      .where(LedgerTransaction.kind == "funds_released"))
            assert released == 1
            bal = await account_balances(s, "seller_")
            assert bal[(str(ledger.seller_available(shop)), "EUR")] == 9_800
            assert bal[(str(ledger.seller_pending(shop)), "EUR")] == 9_800  # b's share still held
        await db.dispose()
    asyncio.run(main())


async def open_return(s, order_id: int, buyer: int, seller: int, shop: int) -> None:  # noqa: ANN001
    s.add(ReturnRequest(order_id=order_id, buyer_id=buyer, seller_id=seller, shop_id=shop, status="requested",
                        reason="broken", currency="EUR", reply_by=utcnow() + timedelta(days=2)))
    await s.flush()


def test_a_return_opened_after_the_sweep_listed_the_order_holds_it_back(database_url: str) -> None:
    """The sweep lists due orders, then moves each: a return opened in between must still count."""
    async def main() -> None:
        db, sessions, seller, buyer, shop, product = await setup(database_url)
        t0 = utcnow()
        a = await delivered_order(sessions, seller, buyer, shop, product, t0)
        sweep = Settlement(sessions, None, 7 * DAY, 10 * DAY)  # type: ignore[arg-type]
        listed = await sweep._due(t0, Order.id == a)
        assert listed == [a]
        async with sessions.begin() as s:
            await open_return(s, a, buyer, seller, shop)

        async def stale(now, *conditions):  # noqa: ANN001, ANN002, ANN202
            return listed  # what the sweep read before the return was opened
        sweep._due = stale  # type: ignore[method-assign]
        assert await sweep.complete_due(t0 + timedelta(days=7, seconds=1)) == []
        assert await sweep.release_due(t0 + timedelta(days=10, seconds=1)) == []
        async with sessions() as s:
            o = await s.get(Order, a)
            assert (o.status, o.funds_released_at) == ("delivered", None)
            assert await s.scalar(select(func.count()).select_from(LedgerTransaction)
                                  .where(LedgerTransaction.kind == "funds_released")) == 0
        await db.dispose()
    asyncio.run(main())


def test_a_return_opened_at_the_last_moment_and_the_release_never_cross(database_url: str) -> None:
    """Opening a return holds the order's row (as Returns.request does): a release waiting for it
    sees the return once it commits; a return request waiting on a release finds it released."""
    from bidcast.services.accounts import Principal
    from bidcast.services.returns import Returns

    async def main() -> None:
        db, sessions, seller, buyer, shop, product = await setup(database_url)
        t0 = utcnow()
        a = await delivered_order(sessions, seller, buyer, shop, product, t0 - timedelta(days=10, seconds=1))
        b = await delivered_order(sessions, seller, buyer, shop, product, t0 - timedelta(days=1))
        sweep = Settlement(sessions, None, 7 * DAY, 10 * DAY)  # type: ignore[arg-type]

        async with sessions.begin() as s:  # a return being opened: the row locked, not yet committed
            await s.execute(select(Order.id).where(Order.id == a).with_for_update())
            await open_return(s, a, buyer, seller, shop)
            release = asyncio.create_task(sweep.release_due(t0))
            await asyncio.sleep(1.0)
            assert not release.done()  # waiting on the order's row
        assert await release == []
        async with sessions() as s:
            assert (await s.get(Order, a)).funds_released_at is None

        # The other way round: the release holds the row; the return request waits, then is refused.
        returns = Returns(sessions, None, 7 * DAY, 2 * DAY)  # type: ignore[arg-type]
        who = Principal(buyer, "b@x.test", "b", frozenset({"buyer"}), False)
        async with sessions.begin() as s:
            await s.execute(select(Order.id).where(Order.id == b).with_for_update())
            await s.execute(update(Order).where(Order.id == b).values(funds_released_at=t0))
            request = asyncio.create_task(returns.request(who, b, "arrived broken", []))
            await asyncio.sleep(1.0)
            assert not request.done()
        with pytest.raises(AppError) as refused:
            await request
        assert (refused.value.status, refused.value.code) == (409, "return_window_closed")
        async with sessions() as s:
            assert await s.scalar(select(func.count()).select_from(ReturnRequest)
                                  .where(ReturnRequest.order_id == b)) == 0
        await db.dispose()
    asyncio.run(main())


def test_a_funds_hold_shorter_than_the_return_window_is_raised_to_it(database_url: str, caplog) -> None:  # noqa: ANN001
    async def main() -> None:
        db, sessions, seller, buyer, shop, product = await setup(database_url)
        t0 = utcnow()
        a = await delivered_order(sessions, seller, buyer, shop, product, t0)
        with caplog.at_level("WARNING", logger="bidcast.settlement"):
            sweep = Settlement(sessions, None, 7 * DAY, 2 * DAY)  # type: ignore[arg-type]
        assert sweep.funds_hold_s == 7 * DAY and "shorter than the return window" in caplog.text
        assert await sweep.release_due(t0 + timedelta(days=3)) == []  # a return may still come
        assert await sweep.release_due(t0 + timedelta(days=7, seconds=1)) == [a]
        await db.dispose()
    asyncio.run(main())
