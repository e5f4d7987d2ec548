"""SQLAlchemy tables. Amounts are integer minor units; times are stored as UTC."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer,
                        String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite has no BIGINT autoincrement; INTEGER there is 64-bit anyway.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (portable across both engines)."""
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(100), default="buyer")  # comma-separated
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    # Unpaid auction wins; at STRIKES_TO_SUSPEND the account may no longer bid (see order_deadlines).
    strikes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthToken(Base):
    __tablename__ = "auth_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # session | api
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Shop(Base):
    __tablename__ = "shops"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|approved|rejected
    review_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("shop_id", "sku", name="uq_products_shop_sku"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    title: Mapped[str] = mapped_column(String(140))
    description: Mapped[str] = mapped_column(Text, default="")
    image_urls: Mapped[list] = mapped_column(JSON, default=list)
    category: Mapped[str] = mapped_column(String(40), index=True)
    condition: Mapped[str] = mapped_column(String(20))
    sku: Mapped[str] = mapped_column(String(64))
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active|withdrawn
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Room(Base):
    __tablename__ = "rooms"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(140))
    cover_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    playback_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")  # scheduled|live|ended
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    current_auction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    peak_viewers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How long a winner in this show has to pay; None: the platform default (payment_window_seconds).
    payment_window_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Auction(Base):
    """A lot: a product under auction, in a room's lineup or as a timed auction on its own."""
    __tablename__ = "auctions"
    __table_args__ = (Index("ix_auctions_status_closes", "status", "closes_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), nullable=True, index=True)
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    format: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    starting_price: Mapped[int] = mapped_column(BigInteger)
    reserve_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    buy_now_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    soft_close_seconds: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    ladder: Mapped[list | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    leader_max: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    bid_count: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    winner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    final_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A final-sale lot cannot be returned (shown to bidders before they bid).
    final_sale: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bid(Base):
    """An accepted bid, with the auction's sequence number. (Rejected attempts: BidRejection.)"""
    __tablename__ = "bids"
    __table_args__ = (
        UniqueConstraint("auction_id", "seq", name="uq_bids_auction_seq"),
        UniqueConstraint("auction_id", "bidder_id", "idempotency_key", name="uq_bids_idempotency"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("auctions.id"))
    bidder_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int] = mapped_column(BigInteger)
    accepted: Mapped[bool] = mapped_column(Boolean)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reject_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    price_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    leader_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    outbid_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closes_at_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BidRejection(Base):
    """A rejected bid attempt, kept so that a retry with the same key gets the same answer.

    Under contention most attempts are rejected (everyone chases the same price). They live
    apart from `bids` with no index on the random idempotency keys: the auction's single writer
    checks keys in memory, and a unique index here would scatter every batch's writes over the
    whole index. Recovery loads an auction's rejections by `auction_id`."""
    __tablename__ = "bid_rejections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("auctions.id"), index=True)
    bidder_id: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int] = mapped_column(BigInteger)
    reject_code: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    accepted = False


class Order(Base):
    """One shop's part of a purchase: an auction win, a flash-sale unit or a checkout's lines.

    `status` is the order's lifecycle (domain/order_status.py); `payment_state` and
    `fulfilment_state` are kept apart: money (unpaid → paid → partially_refunded/refunded) and
    parcel (unfulfilled → shipped → in_transit → delivered → returned) move on their own.
    `amount` is the total charged (lines + shipping), in minor units of `currency`."""
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_delivered", "status", "delivered_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    # The lot's product, or the first line's for a multi-line order (all lines: OrderLine).
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    auction_id: Mapped[int | None] = mapped_column(ForeignKey("auctions.id"), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(15), default="auction", server_default="auction")  # auction|shop|flash|second_chance
    amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="awaiting_payment")
    payment_state: Mapped[str] = mapped_column(String(20), default="unpaid", server_default="unpaid")
    fulfilment_state: Mapped[str] = mapped_column(String(20), default="unfulfilled", server_default="unfulfilled")
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    final_sale: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Orders placed together (one checkout split by shop) share this id.
    checkout_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    flash_sale_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    shipping_address: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # a snapshot
    shipping_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    carrier: Mapped[str | None] = mapped_column(String(40), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    funds_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OrderLine(Base):
    """What an order is for: product, title and unit price as they were when it was bought."""
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    title: Mapped[str] = mapped_column(String(140))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_room_id", "room_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(String(500))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomRestriction(Base):
    """A host's mute (no chat) or ban (no chat, no bids, no watching) of a user in one room."""
    __tablename__ = "room_restrictions"
    __table_args__ = (UniqueConstraint("room_id", "user_id", name="uq_room_restriction"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))  # mute | ban
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(Base):
    """A payment attempt for an order at the provider; the key makes a retried pay click safe."""
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("order_id", "idempotency_key", name="uq_payments_order_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    provider_intent_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(30))
    captured: Mapped[int] = mapped_column(BigInteger, default=0)
    decline_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransaction(Base):
    """A balanced double-entry transaction; its id names the business event, so it posts once."""
    __tablename__ = "ledger_transactions"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(120), index=True)
    shop_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerPosting(Base):
    __tablename__ = "ledger_postings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account: Mapped[str] = mapped_column(String(60), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class OrderEvent(Base):
    """The order's audit trail: every change, who made it and why, visible to buyer and seller."""
    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """An in-app notification; e-mailed too when SMTP is configured (the row is the outbox)."""
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_id", "id"),
                      Index("ix_notifications_email_state", "email_state"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    email_state: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")  # pending|sent|skipped|failed
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Notifications with a group key coalesce: at most one UNREAD row per (user, key), enforced by
    # a partial unique index (migration 0012). Outbid notices use "outbid:<auction id>".
    group_key: Mapped[str | None] = mapped_column(String(60), nullable=True)
    # Not before this time: the next e-mail attempt (back-off), or a delivery claim's lease end.
    email_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- fulfilment: shipping and tracking (migration 0007) ---


class TrackingEvent(Base):
    """A carrier's report on a parcel, as received by the carrier webhook.

    (carrier, carrier_event_id) is unique: the same report handled twice is a replay, in any process.
    Events belong to a tracking number; an order shows the events of its carrier + tracking number."""
    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("carrier", "carrier_event_id", name="uq_tracking_events_carrier_event"),
                      Index("ix_tracking_events_parcel", "carrier", "tracking_number"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(40))
    carrier_event_id: Mapped[str] = mapped_column(String(100))
    tracking_number: Mapped[str] = mapped_column(String(60))
    event: Mapped[str] = mapped_column(String(20))  # in_transit | delivered | exception
    detail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payout(Base):
    """Money a seller took out of their available balance; (shop, key) makes a retried request safe."""
    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("shop_id", "idempotency_key", name="uq_payouts_shop_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default="paid_out")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The carrier webhook finds orders by their parcel.
Index("ix_orders_carrier_tracking", Order.carrier, Order.tracking_number)


# --- returns and refunds (migration 0008) ---


class RefundRecord(Base):
    """A refund of an order: reserved first (pending), then done at the provider (succeeded).

    The key makes a retried refund safe: (order, key) is unique, a retry gets the first answer.
    Pending rows count in orders.refunded_amount, so concurrent refunds can never exceed capture."""
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("order_id", "idempotency_key", name="uq_refunds_order_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|succeeded|failed
    provider_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Bumped when a refused refund is tried again with the same key: names the provider key anew.
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReturnRequest(Base):
    """A buyer's return of a delivered order (one per order); see domain/returns.py for states."""
    __tablename__ = "return_requests"
    __table_args__ = (Index("ix_return_requests_status_reply_by", "status", "reply_by"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    status: Mapped[str] = mapped_column(String(15), default="requested")
    reason: Mapped[str] = mapped_column(Text)
    photo_urls: Mapped[list] = mapped_column(JSON, default=list)
    refund_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # decided amount
    currency: Mapped[str] = mapped_column(String(3))
    seller_note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dispute_reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reply_by: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    refund_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PaymentWebhookEvent(Base):
    """A provider event Bidcast has handled: the id makes handling happen once across processes."""
    __tablename__ = "payment_webhook_events"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentWebhookSignature(Base):
    """Signatures seen inside the timestamp window: the exact same delivery twice is a replay."""
    __tablename__ = "payment_webhook_signatures"
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# The sandbox provider's own records (it plays the card network's database; never card numbers).
class SandboxIntent(Base):
    __tablename__ = "sandbox_intents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(25))
    reference: Mapped[str] = mapped_column(String(120), index=True)
    captured: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    decline_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    created: Mapped[int] = mapped_column(BigInteger, default=0)


class SandboxCard(Base):
    __tablename__ = "sandbox_cards"
    token: Mapped[str] = mapped_column(String(40), primary_key=True)
    last4: Mapped[str] = mapped_column(String(4))
    brand: Mapped[str] = mapped_column(String(20))
    behaviour: Mapped[str] = mapped_column(String(30))


class SandboxRefund(Base):
    __tablename__ = "sandbox_refunds"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    intent_id: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    created: Mapped[int] = mapped_column(BigInteger, default=0)


class SandboxIdempotency(Base):
    __tablename__ = "sandbox_idempotency"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[dict] = mapped_column(JSON)


class SandboxEvent(Base):
    """The sandbox's webhook outbox: delivered by a loop, so a restart never loses an event."""
    __tablename__ = "sandbox_events"
    __table_args__ = (Index("ix_sandbox_events_pending", "delivered", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    created: Mapped[int] = mapped_column(BigInteger)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, default=0)



# --- shop: cart, addresses, checkout (migration 0009) ---
from sqlalchemy import text as sa_text  # noqa: E402


class CartLine(Base):
    """One product in a person's cart (server-side, so the cart follows them across devices)."""
    __tablename__ = "cart_lines"
    __table_args__ = (UniqueConstraint("user_id", "product_id", name="uq_cart_lines_user_product"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    # The idempotency key of the last "add" that changed this line: a retried add adds nothing.
    last_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Address(Base):
    """A saved shipping address; at most one per person is the default (partial unique index)."""
    __tablename__ = "addresses"
    __table_args__ = (Index("uq_addresses_one_default", "user_id", unique=True,
                            sqlite_where=sa_text("is_default"), postgresql_where=sa_text("is_default")),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    line1: Mapped[str] = mapped_column(String(120))
    line2: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(80))
    postal_code: Mapped[str] = mapped_column(String(12))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(24))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Checkout(Base):
    """One checkout request: its id is the orders' checkout_id; (user, key) makes a retry return
    the same orders; request_hash tells a retry from a different request under the same key."""
    __tablename__ = "checkouts"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_checkouts_user_key"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- flash sales (migration 0010) ---


class FlashSale(Base):
    """A limited quantity of one product at a sale price for N seconds in a live room.

    The units are reserved from the product's stock at launch; `sold` counts units held by
    orders (an unpaid order that expires gives its units back while the sale runs). The CHECK
    makes the database refuse an oversell whatever the code does. `version` grows with every
    change, so a client can drop an older update that arrives late. `ended_at` is set exactly
    once (guarded UPDATE), in the same transaction that returns the unsold units to stock."""
    __tablename__ = "flash_sales"
    __table_args__ = (CheckConstraint("sold >= 0 AND sold <= quantity", name="ck_flash_sales_sold"),
                      Index("ix_flash_sales_status_ends", "status", "ends_at"),
                      UniqueConstraint("room_id", "launch_key", name="uq_flash_sales_launch_key"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    title: Mapped[str] = mapped_column(String(140))
    currency: Mapped[str] = mapped_column(String(3))
    sale_price: Mapped[int] = mapped_column(BigInteger)
    regular_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    per_buyer_limit: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="running")  # running | ended
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    returned: Mapped[int | None] = mapped_column(Integer, nullable=True)  # units given back at the end
    version: Mapped[int] = mapped_column(Integer, default=1)
    launch_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlashBuyer(Base):
    """Units one buyer holds in one sale; `cap` copies the sale's per-buyer limit so that the
    database itself refuses a buyer above it."""
    __tablename__ = "flash_buyers"
    __table_args__ = (UniqueConstraint("sale_id", "buyer_id", name="uq_flash_buyers"),
                      CheckConstraint("units >= 0 AND units <= cap", name="ck_flash_buyers_units"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    units: Mapped[int] = mapped_column(Integer)
    cap: Mapped[int] = mapped_column(Integer)


class FlashPurchase(Base):
    """An accepted purchase and the key it came with: a retry gets the same order back."""
    __tablename__ = "flash_purchases"
    __table_args__ = (UniqueConstraint("sale_id", "buyer_id", "idempotency_key", name="uq_flash_purchases_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- workers: auction ownership (migration 0011) ---
class AuctionLease(Base):
    """Which process decides an auction's bids: the owner renews `expires_at_ms`; a takeover
    bumps `epoch`, and every commit of the writer is fenced by (owner, epoch)."""
    __tablename__ = "auction_leases"
    auction_id: Mapped[int] = mapped_column(ForeignKey("auctions.id", ondelete="CASCADE"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120), index=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=1)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)  # epoch milliseconds


# --- notifications: reminders, second-chance offers (migration 0012) ---

class NotificationSettings(Base):
    """A person's e-mail choices: all e-mail off, or off for some kinds (in-app stays on)."""
    __tablename__ = "notification_settings"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    muted_kinds: Mapped[str] = mapped_column(String(600), default="", server_default="")  # comma-separated
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaymentReminder(Base):
    """The marker that an order's payment-due reminder went out (its key makes it once only)."""
    __tablename__ = "payment_reminders"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecondChanceOffer(Base):
    """A cancelled-unpaid auction order offered to the runner-up: once per order (the key)."""
    __tablename__ = "second_chance_offers"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    offer_order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    runner_up_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("uq_notifications_unread_group", Notification.user_id, Notification.group_key, unique=True,
      sqlite_where=Notification.read_at.is_(None) & Notification.group_key.is_not(None),
      postgresql_where=Notification.read_at.is_(None) & Notification.group_key.is_not(None))
Index("ix_notifications_unread", Notification.user_id,
      sqlite_where=Notification.read_at.is_(None), postgresql_where=Notification.read_at.is_(None))
