"""Wires the adapters and services together; the one place that knows every part."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .config import Settings
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

    async def close(self) -> None:
        await self.engine.stop()
        await self.db.dispose()


def build(settings: Settings) -> Container:
    db = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = session_factory(db)
    accounts = Accounts(sessions)
    shops = Shops(sessions, accounts)
    engine = AuctionEngine(AuctionStore(sessions), batch_max=settings.bid_batch_max)
    return Container(settings=settings, db=db, sessions=sessions, accounts=accounts, shops=shops,
                     catalog=Catalog(sessions, shops), engine=engine, rooms=Rooms(sessions, engine),
                     auctions=AuctionQueries(sessions, engine), orders=Orders(sessions))
