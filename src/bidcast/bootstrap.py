"""Wires the adapters and services together; the one place that knows every part."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

import gc
import os
import socket

from .config import Settings
from .loop_lag import LoopLag
from .realtime.bridge import auction_events_to_room
from .realtime.broker import Broker, MemoryBroker, RedisBroker
from .realtime.hub import Hubs
from .payments.sandbox_outbox import sandbox_for
from .services.bidding import Bidding
from .services.ownership import bid_router, lease_owner
from .services.order_deadlines import OrderDeadlines
from .services.order_payments import OrderPayments
from .services.addresses import Addresses
from .services.cart import Cart
from .services.checkout import Checkouts
from .services.refunds import Refunds
from .services.payment_webhooks import PaymentWebhooks, webhook_secret
from .services.returns import Returns
from .services.carrier_events import CarrierEvents
from .services.fulfilment import Fulfilment
from .services.payouts import Payouts
from .services.settlement import Settlement
from .services.chat import Chat
from .services.flash_sales import FlashSales
from .storage.flash_store import FlashStore
from .services.room_views import RoomViews
from .services.accounts import Accounts
from .services.auction_engine import AuctionEngine
from .services.auctions import AuctionQueries
from .services.catalog import Catalog
from .services.mail_outbox import MailOutbox
from .services.mailer import SmtpSender, parse_smtp_url
from .services.notifications import NotificationCenter
from .services.outbid_notices import OutbidNotices
from .services.reminders import PaymentReminders
from .services.second_chance import SecondChances
from .services.orders import Orders
from .services.rooms import Rooms
from .services.shops import Shops
from .storage.auction_store import AuctionStore
from .storage.db import Reader, create_engine, hot_path_engine, session_factory
from .storage.pg_bid_commit import PgBidCommit


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
    refunds: Refunds

    async def start(self) -> None:
        tune_gc()
        self.loop_lag.start()
        await self.broker.start()
        self.hubs.start()
        self.flash.start()
        self.engine.add_sink(self.outbid_notices.sink)  # before any writer runs
        self.outbid_notices.start()
        self.mail_outbox.start()
        self.reminders.start(self.settings.reminder_sweep_seconds)
        self.settlement.start(self.settings.settlement_sweep_seconds)
        if (outbox := getattr(self.payments.provider, "outbox", None)) is not None:
            outbox.start(self.settings.payment_outbox_seconds)
        self.returns.start(self.settings.returns_sweep_seconds)

    async def close(self) -> None:
        await self.flash.stop()
        await self.deadlines.stop()
        await self.settlement.stop()
        if (outbox := getattr(self.payments.provider, "outbox", None)) is not None:
            await outbox.stop()
        await self.returns.stop()
        await self.hubs.stop()
        await self.reminders.stop()
        await self.mail_outbox.stop()
        await self.engine.stop()
        await self.outbid_notices.stop()  # after the writers: their last notices get written
        await self.broker.stop()
        await self.loop_lag.stop()
        await self.db.dispose()

    @cached_property
    def loop_lag(self) -> LoopLag:
        return LoopLag()

    # -- after payment: cancel, ship, carrier tracking, settlement, payouts (docs/orders.md) --
    @cached_property
    def fulfilment(self) -> Fulfilment:
        return Fulfilment(self.sessions, self.refunds, self.settings.carriers)

    @cached_property
    def carrier_events(self) -> CarrierEvents:
        st = self.settings
        return CarrierEvents(self.sessions, st.carriers, st.carrier_webhook_secret, st.carrier_webhook_secrets)

    @cached_property
    def settlement(self) -> Settlement:
        st = self.settings
        window = st.return_window_seconds if st.return_window_seconds is not None else st.return_window_days * 86400
        hold = st.funds_hold_seconds if st.funds_hold_seconds is not None else st.funds_hold_days * 86400
        return Settlement(self.sessions, self.fulfilment, window, hold)

    @cached_property
    def payouts(self) -> Payouts:
        return Payouts(self.sessions)

    # -- payment webhooks, returns (docs/payments.md, docs/returns.md) --
    @cached_property
    def payment_webhooks(self) -> PaymentWebhooks:
        st = self.settings
        return PaymentWebhooks(self.sessions, self.payments, self.refunds,
                               webhook_secret(st.payment_webhook_secret, st.resolved_secret_key()),
                               st.payment_webhook_tolerance_seconds)

    @cached_property
    def returns(self) -> Returns:
        st = self.settings
        window = st.return_window_seconds if st.return_window_seconds is not None else st.return_window_days * 86400
        reply = st.return_reply_seconds if st.return_reply_seconds is not None else st.return_reply_hours * 3600
        return Returns(self.sessions, self.refunds, window, reply)

    # -- the shop: cart, saved addresses, checkout (built on first use from the parts above) --
    @cached_property
    def cart(self) -> Cart:
        return Cart(self.sessions)

    @cached_property
    def addresses(self) -> Addresses:
        return Addresses(self.sessions)

    @cached_property
    def checkouts(self) -> Checkouts:
        return Checkouts(self.sessions, self.addresses, self.payments,
                         self.settings.checkout_payment_window_seconds)


    # -- notifications: the center, outbid notices, e-mail delivery, reminders, second chances --
    @cached_property
    def notifications(self) -> NotificationCenter:
        return NotificationCenter(self.sessions)

    @cached_property
    def outbid_notices(self) -> OutbidNotices:
        return OutbidNotices(self.sessions)

    @cached_property
    def mail_outbox(self) -> MailOutbox:
        st = self.settings
        target = parse_smtp_url(st.smtp_url)
        return MailOutbox(self.sessions, SmtpSender(target) if target else None, st.mail_from,
                          st.public_url or f"http://{st.host}:{st.port}",
                          max_attempts=st.mail_max_attempts, retry_base_s=st.mail_retry_base_seconds,
                          poll_s=st.mail_poll_seconds)

    @cached_property
    def reminders(self) -> PaymentReminders:
        return PaymentReminders(self.sessions)

    @cached_property
    def second_chances(self) -> SecondChances:
        return SecondChances(self.sessions, self.settings.payment_window_seconds)

    # -- flash sales in live rooms (docs/flash-sales.md) --
    @cached_property
    def flash(self) -> FlashSales:
        return FlashSales(self.sessions, self.broker.publish,
                          FlashStore(self.sessions, self.settings.flash_payment_window_seconds),
                          self.settings.bid_batch_max)


def tune_gc() -> None:
    """Short collections: everything loaded at start-up is frozen out of them, and the young
    generations stay small. A collection's pause grows with the objects it walks: with the
    defaults, a hot auction's short-lived objects caused 100 ms pauses at p99; with a young
    generation of 20,000 objects and 20 of its collections per middle one, a crowd of 5,000
    joining a show put ~1 M objects in the middle generation and its collection stopped the
    loop for 150-250 ms just as the first lot started (`bidcast_gc_pause_seconds`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 2, 50)


def build(settings: Settings) -> Container:
    db = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = session_factory(db)
    commit_db = hot_path_engine(settings.database_url)
    reader = Reader(sessions, commit_db)
    accounts = Accounts(sessions, reader)
    shops = Shops(sessions, accounts)
    store = AuctionStore(sessions, settings.payment_window_seconds,
                         PgBidCommit(commit_db) if commit_db is not None else None)
    engine = AuctionEngine(store,
                           batch_max=settings.bid_batch_max, owner=lease_owner(settings, sessions, commit_db))
    broker: Broker = (RedisBroker(settings.redis_url, f"{socket.gethostname()}:{os.getpid()}")
                      if settings.redis_url else MemoryBroker())
    engine.add_sink(auction_events_to_room(broker))
    room_views = RoomViews(sessions, engine)
    provider = sandbox_for(settings, sessions)
    chat = Chat(sessions, broker.publish, accounts, reader)
    hubs = Hubs(broker, room_views.load, room_views.record_peak, chat.forget,
                fanout_interval=settings.fanout_interval_ms / 1000, fanout_hold=settings.fanout_hold_ms / 1000)
    return Container(settings=settings, db=db, sessions=sessions, accounts=accounts, shops=shops,
                     catalog=Catalog(sessions, shops), engine=engine, rooms=Rooms(sessions, engine),
                     auctions=AuctionQueries(sessions, engine), orders=Orders(sessions),
                     broker=broker, hubs=hubs, chat=chat,
                     room_views=room_views, payments=OrderPayments(sessions, provider),
                     refunds=Refunds(sessions, provider),
                     deadlines=OrderDeadlines(sessions, accounts),
                     bidding=Bidding(sessions, engine, chat, accounts,
                                                      settings.bid_burst, settings.bid_rate_per_s,
                                                      router=bid_router(settings, engine)))
