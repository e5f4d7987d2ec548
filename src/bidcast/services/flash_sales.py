"""Flash sales in a live room: launch, buy, end; the room sees stock left counting down.

Launching reserves the units from the product's stock; buying goes through the sale's writer
(services/flash_writer.py) and the database's guarded updates; ending is one guarded UPDATE
(`WHERE status = 'running'`) that returns the unsold units to stock in the same transaction,
so it happens exactly once however many processes race to do it. Events: `flash.started`,
`flash.stock` (coalesced to at most ten a second per sale and process), `flash.ended`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..domain.flash_sale import FlashRuleError, validate_launch
from ..errors import AppError, conflict, forbidden, not_found
from ..storage.flash_store import FlashStore, Job, SaleInfo, terms_of, to_dt
from ..storage.models import FlashBuyer, FlashSale, Product, Room, Shop
from .accounts import Principal
from .flash_view import sale_public, stock_event
from .flash_writer import STOCK_EVENT_S, Result, SaleWriter

log = logging.getLogger("bidcast.flash")
Publish = Callable[..., None]


class FlashSales:
    def __init__(self, sessions: async_sessionmaker, publish: Publish, store: FlashStore,
                 batch_max: int = 512) -> None:
        self._sessions = sessions
        self._publish = publish
        self.store = store
        self._batch_max = batch_max
        self._writers: dict[int, SaleWriter] = {}
        self._rooms: dict[int, int] = {}
        self._attach_lock = asyncio.Lock()
        self._stock: dict[int, tuple[float, int, int, asyncio.TimerHandle | None]] = {}
        self._task: asyncio.Task | None = None

    # -- launching --------------------------------------------------------------------------------
    async def launch(self, who: Principal, room_id: int, product_id: int, quantity: int,
                     sale_price: int, duration_seconds: int, per_buyer_limit: int,
                     key: str | None = None) -> FlashSale:
        now = time.time()
        try:
            async with self._sessions.begin() as s:
                room = await s.get(Room, room_id, with_for_update=True)
                if room is None:
                    raise not_found("Room")
                if room.host_id != who.id:
                    raise forbidden("Only the room's host may launch a flash sale.")
                if key:
                    prior = (await s.execute(select(FlashSale).where(
                        FlashSale.room_id == room_id, FlashSale.launch_key == key))).scalar_one_or_none()
                    if prior is not None:
                        return prior
                if room.status != "live":
                    raise conflict("room_not_live", "Go live before launching a flash sale.")
                running = (await s.execute(select(FlashSale.id).where(
                    FlashSale.room_id == room_id, FlashSale.status == "running",
                    FlashSale.ends_at > to_dt(now)))).first()
                if running is not None:
                    raise conflict("flash_running", "A flash sale is already running in this room.")
                product = await s.get(Product, product_id)
                shop = await s.get(Shop, product.shop_id) if product else None
                if product is None or shop is None:
                    raise not_found("Product")
                if shop.owner_id != who.id:
                    raise forbidden("You can only sell your own shop's products.")
                if shop.status != "approved" or product.status != "active":
                    raise conflict("not_for_sale", "This product is not for sale.")
                try:
                    validate_launch(quantity, product.stock, sale_price, product.price_amount,
                                    duration_seconds, per_buyer_limit)
                except FlashRuleError as e:
                    raise AppError(409 if e.code == "out_of_stock" else 422, e.code, str(e)) from None
                reserved = await s.execute(update(Product).where(
                    Product.id == product_id, Product.stock >= quantity)
                    .values(stock=Product.stock - quantity))
                if reserved.rowcount != 1:
                    raise conflict("out_of_stock", "Not enough stock left.")
                sale = FlashSale(room_id=room_id, host_id=who.id, shop_id=shop.id, seller_id=shop.owner_id,
                                 product_id=product_id, title=product.title, currency=product.currency,
                                 sale_price=sale_price, regular_price=product.price_amount,
                                 quantity=quantity, sold=0, per_buyer_limit=per_buyer_limit,
                                 duration_seconds=duration_seconds, status="running",
                                 starts_at=to_dt(now), ends_at=to_dt(now + duration_seconds),
                                 version=1, launch_key=key)
                s.add(sale)
                image = (product.image_urls or [None])[0]
        except IntegrityError:
            if not key:
                raise
            async with self._sessions() as s:  # the same launch, committed by a racing retry
                return (await s.execute(select(FlashSale).where(
                    FlashSale.room_id == room_id, FlashSale.launch_key == key))).scalar_one()
        self._rooms[sale.id] = room_id
        await self._attach(sale.id, sale)
        self._publish(room_id, "flash.started", {"sale": sale_public(sale, image)})
        return sale

    # -- reading ----------------------------------------------------------------------------------
    async def get(self, sale_id: int) -> FlashSale:
        sale = await self.store.load(sale_id)
        if sale is None:
            raise not_found("Flash sale")
        return sale

    async def for_room(self, room_id: int, limit: int = 20) -> list[FlashSale]:
        async with self._sessions() as s:
            return list((await s.execute(select(FlashSale).where(FlashSale.room_id == room_id)
                                         .order_by(FlashSale.id.desc()).limit(limit))).scalars())

    async def bought_by(self, sale_id: int, buyer_id: int) -> int:
        async with self._sessions() as s:
            return (await s.execute(select(FlashBuyer.units).where(
                FlashBuyer.sale_id == sale_id, FlashBuyer.buyer_id == buyer_id))).scalar() or 0

    # -- buying -----------------------------------------------------------------------------------
    async def purchase(self, sale_id: int, who: Principal, quantity: int, key: str) -> Result:
        w = self._writers.get(sale_id) or await self._attach(sale_id)
        job = Job(who.id, quantity, key)
        if w is None:  # ended (or never ran here): only a retry of an accepted key succeeds
            return await self._after_end(sale_id, job)
        fast = w.fast_answer(who.id, quantity, time.time())
        if fast is not None:
            return await w.replay(job) or fast
        return await w.submit(job)

    async def _after_end(self, sale_id: int, job: Job) -> Result:
        sale = await self.get(sale_id)
        known = (await self.store.keys_of(sale_id, job.buyer_id)).get(job.key)
        if known is not None and known[1] == job.quantity:
            return Result(True, quantity=known[1], order_id=known[0], replayed=True, sold=sale.sold)
        return Result(False, "not_running", "This flash sale is not running.", sold=sale.sold)

    async def _attach(self, sale_id: int, sale: FlashSale | None = None) -> SaleWriter | None:
        async with self._attach_lock:
            w = self._writers.get(sale_id)
            if w is not None:
                return w
            sale = sale or await self.store.load(sale_id)
            if sale is None:
                raise not_found("Flash sale")
            if sale.status != "running":
                return None
            info = SaleInfo(sale.id, sale.shop_id, sale.seller_id, sale.product_id, sale.title,
                            sale.currency, sale.sale_price)
            self._rooms[sale.id] = sale.room_id
            w = SaleWriter(info, terms_of(sale), sale.sold, sale.version, self.store,
                           self._counts_changed, self.end, self._writers.pop, self._batch_max)
            self._writers[sale_id] = w
            w.start()
            return w

    # -- live stock -------------------------------------------------------------------------------
    def _counts_changed(self, sale_id: int, sold: int, version: int) -> None:
        """Publish flash.stock now, or once the 100 ms since the last one have passed."""
        last, _, _, handle = self._stock.get(sale_id, (0.0, 0, 0, None))
        now = time.monotonic()
        if handle is None and now - last >= STOCK_EVENT_S:
            self._stock[sale_id] = (now, sold, version, None)
            self._emit_stock(sale_id, sold, version)
            return
        if handle is None:
            handle = asyncio.get_running_loop().call_later(
                STOCK_EVENT_S - (now - last), self._flush_stock, sale_id)
        self._stock[sale_id] = (last, sold, version, handle)

    def _flush_stock(self, sale_id: int) -> None:
        _, sold, version, _ = self._stock[sale_id]
        self._stock[sale_id] = (time.monotonic(), sold, version, None)
        self._emit_stock(sale_id, sold, version)

    def _emit_stock(self, sale_id: int, sold: int, version: int) -> None:
        w, room_id = self._writers.get(sale_id), self._rooms.get(sale_id)
        if w is not None and room_id is not None:
            self._publish(room_id, "flash.stock", stock_event(sale_id, w.terms.quantity, sold, version))

    # -- ending -----------------------------------------------------------------------------------
    async def end(self, sale_id: int, who: Principal | None = None) -> bool:
        """End the sale (due, or now by its host) and give the unsold units back: exactly once."""
        now = to_dt(time.time())
        cond = [FlashSale.id == sale_id, FlashSale.status == "running"]
        if who is None:
            cond.append(FlashSale.ends_at <= now)
        else:
            sale = await self.get(sale_id)
            if sale.host_id != who.id:
                raise forbidden("Only the sale's host may end it.")
        async with self._sessions.begin() as s:
            row = (await s.execute(update(FlashSale).where(*cond).values(
                status="ended", ended_at=now, returned=FlashSale.quantity - FlashSale.sold,
                version=FlashSale.version + 1)
                .returning(FlashSale.product_id, FlashSale.returned, FlashSale.room_id,
                           FlashSale.sold, FlashSale.quantity, FlashSale.version))).first()
            if row is None:
                return False
            product_id, returned, room_id, sold, quantity, version = row
            if returned:
                await s.execute(update(Product).where(Product.id == product_id)
                                .values(stock=Product.stock + returned))
        w = self._writers.get(sale_id)
        if w is not None:
            w.ended = True
        pending = self._stock.pop(sale_id, None)
        if pending and pending[3] is not None:
            pending[3].cancel()
            self._publish(room_id, "flash.stock", stock_event(sale_id, quantity, pending[1], pending[2]))
        self._publish(room_id, "flash.ended", {
            "sale_id": sale_id, "outcome": "sold_out" if sold >= quantity else "ended",
            "sold": sold, "left": 0, "quantity": quantity, "returned": returned, "version": version,
            "state": "ended"})
        return True

    async def end_due(self) -> list[int]:
        async with self._sessions() as s:
            due = list((await s.execute(select(FlashSale.id).where(
                FlashSale.status == "running", FlashSale.ends_at <= to_dt(time.time())))).scalars())
        return [i for i in due if await self.end(i)]

    def start(self, every_s: float = 1.0) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    await self.end_due()
                except Exception:
                    log.exception("flash sale end sweep failed")
        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *(w.task for w in self._writers.values())] if t]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def views(sales: list[FlashSale]) -> list[dict[str, Any]]:
    return [sale_public(s) for s in sales]
