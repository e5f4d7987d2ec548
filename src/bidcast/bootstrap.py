"""Wires the adapters and services together; the one place that knows every part."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import gc
import os
import socket

from .config import Settings
from .realtime.bridge import auction_events_to_room
from .realtime.broker import Broker, MemoryBroker, RedisBroker
from .realtime.hub import Hubs
from .payments.sandbox import SandboxProvider
from .services.bidding import Bidding
from .services.order_deadlines import OrderDeadlines
from .services.order_payments import OrderPayments
from .services.chat import Chat
from .services.room_views import RoomViews
from .services.accounts import Accounts
from .services.auction_engine import AuctionEngine
from .services.auctions import AuctionQueries
from .services.catalog import Catalog
from .services.orders import Orders
from .services.rooms import Rooms
from .services.shops import Shops
from .storage.auction_store import AuctionStore
from .storage.db import create_engine, session_factory


@dataclass
class Container:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker
    accounts: Accounts
    shops: Shops
    catalog: Catalog
    engine: AuctionEngine
    rooms: Rooms
    auctions: AuctionQueries
    orders: Orders
    broker: Broker
    hubs: Hubs
    chat: Chat
    room_views: RoomViews
    bidding: Bidding
    payments: OrderPayments
    deadlines: OrderDeadlines

    async def start(self) -> None:
        tune_gc()
        await self.broker.start()
        self.hubs.start()

    async def close(self) -> None:
        await self.deadlines.stop()
        await self.hubs.stop()
        await self.engine.stop()
        await self.broker.stop()
        await self.db.dispose()


def tune_gc() -> None:
    """Fewer, cheaper full collections: everything loaded at start-up is frozen out of them,
    and the young generation is collected less often. A hot auction allocates a lot of
    short-lived objects; default thresholds turned that into 100 ms pauses at p99."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def build(settings: Settings) -> Container:
    db = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = session_factory(db)
    accounts = Accounts(sessions)
    shops = Shops(sessions, accounts)
    engine = AuctionEngine(AuctionStore(sessions, settings.payment_window_seconds),
                           batch_max=settings.bid_batch_max)
    broker: Broker = (RedisBroker(settings.redis_url, f"{socket.gethostname()}:{os.getpid()}")
                      if settings.redis_url else MemoryBroker())
    engine.add_sink(auction_events_to_room(broker))
    room_views = RoomViews(sessions, engine)
    chat = Chat(sessions, broker.publish, accounts)
    hubs = Hubs(broker, room_views.load, room_views.record_peak, chat.forget)
    return Container(settings=settings, db=db, sessions=sessions, accounts=accounts, shops=shops,
                     catalog=Catalog(sessions, shops), engine=engine, rooms=Rooms(sessions, engine),
                     auctions=AuctionQueries(sessions, engine), orders=Orders(sessions),
                     broker=broker, hubs=hubs, chat=chat,
                     room_views=room_views, payments=OrderPayments(sessions, SandboxProvider()),
                     deadlines=OrderDeadlines(sessions, accounts),
                     bidding=Bidding(sessions, engine, chat, accounts,
                                                      settings.bid_burst, settings.bid_rate_per_s))
