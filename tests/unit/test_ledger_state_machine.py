"""A state machine over the real money stack: orders paid through the database-backed sandbox,
refunds through `Refunds` (provider + ledger + order row), releases and payouts, on SQLite.

test_ledger_properties.py checks the pure builders; this checks what the services store. After
every step: the ledger balances; each seller's pending + available + paid out equals sales −
commission − refunds + commission given back − ... i.e. sales − commission − their refund share,
and paid out equals the payouts made; orders.refunded_amount, the provider's intent and the
ledger agree; nothing is ever refunded above the capture (asked for: refused with a code).
"""
from __future__ import annotations

import asyncio
import itertools
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bidcast.domain import ledger
from bidcast.errors import AppError
from bidcast.payments.sandbox import SandboxProvider
from bidcast.payments.sandbox_store import DatabaseStore
from bidcast.services.order_payments import OrderPayments
from bidcast.services.refunds import Refunds
from bidcast.storage.db import create_engine, session_factory
from bidcast.storage.ledger_store import account_balances, record
from bidcast.storage.models import Base, Order, Product, Shop, User
from bidcast.storage.payment_store import captured_payment, order_transactions

SHOPS = (1, 2, 3)
counter = itertools.count(1)


class MoneyMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.db = create_engine(f"sqlite:///{self.tmp.name}/m.db", synchronous="normal")
        self.run(self._schema())
        sessions = session_factory(self.db)
        self.sessions = sessions
        self.provider = SandboxProvider(store=DatabaseStore(sessions))
        self.payments = OrderPayments(sessions, self.provider)
        self.refunds = Refunds(sessions, self.provider)
        self.orders: list[int] = []
        self.sales = {s: 0 for s in SHOPS}
        self.paid_out = {s: 0 for s in SHOPS}

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    async def _schema(self) -> None:
        async with self.db.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with session_factory(self.db).begin() as s:
            for shop in SHOPS:
                s.add(User(id=shop, email=f"s{shop}@x.test", display_name="s", password_hash="x"))
            await s.flush()
            for shop in SHOPS:
                s.add(Shop(id=shop, owner_id=shop, name=f"shop {shop}", contact_email="s@x.test", status="approved"))
            await s.flush()
            for shop in SHOPS:
                s.add(Product(id=shop, shop_id=shop, title="p", category="misc", condition="new", sku=f"k{shop}",
                              price_amount=1, currency="EUR", stock=100))
            s.add(User(id=99, email="b@x.test", display_name="b", password_hash="x"))

    def teardown(self) -> None:
        if hasattr(self, "db"):
            self.run(self.db.dispose())
            self.loop.close()
            self.tmp.cleanup()

    @rule(shop=st.sampled_from(SHOPS), amount=st.integers(1, 50_000))
    def pay(self, shop: int, amount: int) -> None:
        async def go() -> int:
            async with self.sessions.begin() as s:
                order = Order(buyer_id=99, seller_id=shop, shop_id=shop, product_id=shop, amount=amount,
                              currency="EUR", kind="shop")
                s.add(order)
                await s.flush()
                oid = order.id
            ref, k = f"order:{oid}", f"k{next(counter)}"
            intent = await self.provider.create_intent(amount, "EUR", ref, idempotency_key=f"{k}c")
            await self.provider.confirm(intent.id, "4242424242424242", idempotency_key=f"{k}f")
            intent = await self.provider.capture(intent.id, idempotency_key=f"{k}p")
            await self.payments.settle(oid, intent, k, 99)
            return oid
        self.orders.append(self.run(go()))
        self.sales[shop] += amount

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 10_000), raw=st.integers(1, 60_000), retry=st.booleans())
    def refund(self, i: int, raw: int, retry: bool) -> None:
        oid = self.orders[i % len(self.orders)]
        key = f"r{next(counter)}"
        left = self.run(self._left(oid))
        try:
            first = self.run(self.refunds.refund(oid, raw, "test", key, None))
        except AppError as e:
            assert raw > left and e.code == "refund_exceeds_captured"
            return
        assert raw <= left and first["refund"]["status"] == "succeeded"
        if retry:
            again = self.run(self.refunds.refund(oid, raw, "test", key, None))
            assert again["replayed"] and again["refund"]["id"] == first["refund"]["id"]

    async def _left(self, oid: int) -> int:
        async with self.sessions() as s:
            order = await s.get(Order, oid)
            return (await captured_payment(s, oid)).captured - order.refunded_amount

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 10_000))
    def release(self, i: int) -> None:
        ref = f"order:{self.orders[i % len(self.orders)]}"

        async def go() -> None:
            async with self.sessions.begin() as s:
                position = ledger.order_position(await order_transactions(s, ref), ref)
                if not position.released and position.seller_remaining > 0:
                    await record(s, ledger.funds_released(position))
        self.run(go())

    @rule(shop=st.sampled_from(SHOPS), raw=st.integers(1, 100_000))
    def pay_out(self, shop: int, raw: int) -> None:
        async def go() -> None:
            async with self.sessions.begin() as s:
                available = (await account_balances(s, f"seller_available:{shop}")).get(
                    (f"seller_available:{shop}", "EUR"), 0)
                if available > 0:
                    amount = 1 + raw % available
                    await record(s, ledger.payout(f"p{next(counter)}", shop, amount, "EUR", available))
                    self.paid_out[shop] += amount
        self.run(go())

    @invariant()
    def books_are_straight(self) -> None:
        if not hasattr(self, "db"):
            return

        async def go() -> None:
            # Read the provider first, outside the session (SQLite: one writer at a time).
            async with self.sessions() as s:
                intent_ids = {oid: (await captured_payment(s, oid)).provider_intent_id for oid in self.orders}
            intents = {oid: await self.provider.get(iid) for oid, iid in intent_ids.items()}
            async with self.sessions() as s:
                bals = await account_balances(s)
                assert sum(bals.values()) == 0
                refunded: dict[int, int] = {shop: 0 for shop in SHOPS}
                commission_back: dict[int, int] = {shop: 0 for shop in SHOPS}
                commission: dict[int, int] = {shop: 0 for shop in SHOPS}
                for oid in self.orders:
                    ref = f"order:{oid}"
                    pos = ledger.order_position(await order_transactions(s, ref), ref)
                    order = await s.get(Order, oid)
                    intent = intents[oid]
                    assert order.refunded_amount == pos.refunded == intent.refunded <= intent.captured
                    refunded[pos.shop_id] += pos.refunded
                    commission_back[pos.shop_id] += pos.commission_refunded
                    commission[pos.shop_id] += pos.commission
                for shop in SHOPS:
                    total = sum(v for (a, _), v in bals.items() if a.startswith("seller_") and a.endswith(f":{shop}"))
                    assert total == self.sales[shop] - commission[shop] - refunded[shop] + commission_back[shop]
                    assert bals.get((f"seller_paid_out:{shop}", "EUR"), 0) == self.paid_out[shop]
        self.run(go())


MoneyMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None)
TestMoneyMachine = MoneyMachine.TestCase
