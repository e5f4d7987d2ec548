"""Demo data: a few accounts, an approved shop with products, and a live room with lots."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from . import bootstrap
from .config import Settings
from .errors import AppError
from .media import hls_available, write_product_image
from .services.rooms import LotSettings
from .storage.models import utcnow

PASSWORD = "bidcast-demo"
DEMO_STREAM = "room-1"
DEMO_STREAM_URL = f"/media/hls/{DEMO_STREAM}/index.m3u8"
PRODUCTS = [
    ("Vintage film camera", "cameras", "used_good", 8_900, "A 1970s rangefinder, tested."),
    ("Signed vinyl record", "music", "like_new", 4_500, "First pressing, signed sleeve."),
    ("Mechanical watch", "watches", "used_good", 25_000, "Automatic movement, serviced."),
    ("Retro game console", "games", "used_fair", 6_000, "Two controllers, cables included."),
    ("Designer handbag", "fashion", "like_new", 32_000, "With dust bag and receipt."),
]
# Sold at a fixed price in the shop (and from the room's shop button), not auctioned.
SHOP_PRODUCTS = [
    ("Leather camera strap", "accessories", "new", 2_900, "Hand-stitched, fits most cameras."),
    ("Film roll, 3-pack", "cameras", "new", 1_800, "ISO 400 colour negative film."),
    ("Record cleaning kit", "music", "new", 2_400, "Brush, fluid and a microfibre cloth."),
]


async def seed(settings: Settings) -> list[str]:
    c = bootstrap.build(settings)
    try:
        return await _seed(c)
    finally:
        await c.db.dispose()


async def _seed(c: bootstrap.Container) -> list[str]:
    try:
        seller = await c.accounts.register("seller@bidcast.test", PASSWORD, "Vintage Vault", {"host"})
    except AppError:
        return ["demo data already present", *_accounts()]
    admin = await c.accounts.create_admin("admin@bidcast.test", PASSWORD, "Admin")
    buyers = [await c.accounts.register(f"buyer{i}@bidcast.test", PASSWORD, f"Buyer {i}")
              for i in range(1, 4)]
    shop = await c.shops.apply(seller, "Vintage Vault", "Cameras, records and watches.",
                               "seller@bidcast.test")
    await c.shops.review(admin, shop.id, True, None)
    seller = await c.accounts.get(seller.id)
    media_dir = Path(c.settings.media_dir)
    playback = DEMO_STREAM_URL if hls_available() else None
    cover = write_product_image(media_dir, "room-cover", "Friday vintage auction", 0)
    room = await c.rooms.schedule(seller, "Friday vintage auction", utcnow() + timedelta(minutes=1),
                                  cover, playback)
    await c.rooms.schedule(seller, "Sunday sneaker drop", utcnow() + timedelta(days=2), None, None)
    for n, (title, cat, cond, price, desc) in enumerate(PRODUCTS, start=1):
        image = write_product_image(media_dir, f"vv-{n:03d}", title, n)
        product = await c.catalog.create(seller, dict(
            title=title, description=desc, image_urls=[image], category=cat, condition=cond,
            sku=f"VV-{n:03d}", price_amount=price, currency="EUR", stock=3))
        await c.rooms.add_lot(seller, room.id, LotSettings(product.id, starting_price=price // 10,
                                                            duration_seconds=60))
    await c.rooms.set_status(seller, room.id, "go_live")
    first_extra = None
    for n, (title, cat, cond, price, desc) in enumerate(SHOP_PRODUCTS, start=len(PRODUCTS) + 1):
        image = write_product_image(media_dir, f"vv-{n:03d}", title, n)
        product = await c.catalog.create(seller, dict(
            title=title, description=desc, image_urls=[image], category=cat, condition=cond,
            sku=f"VV-{n:03d}", price_amount=price, currency="EUR", stock=25))
        first_extra = first_extra or product
    order_note = await _a_shipped_order(c, seller, buyers[0], first_extra.id)
    return [f"seeded shop #{shop.id} and live room #{room.id} with {len(PRODUCTS)} lots, "
            f"{len(SHOP_PRODUCTS)} shop products, {order_note}", *_accounts()]


async def _a_shipped_order(c: bootstrap.Container, seller, buyer, product_id: int) -> str:  # noqa: ANN001
    """buyer1 bought from the shop, paid and the seller shipped it: the seller center, the order
    page and the notification center have something real to show from the first minute."""
    address, _ = await c.addresses.create(buyer.id, dict(
        name="Buyer One", line1="12 Rue de la Paix", line2="", city="Paris", postal_code="75002",
        country="FR", phone="+33 1 23 45 67 89"), make_default=True)
    view, _ = await c.checkouts.place(buyer, "demo-checkout", address.id, {}, [(product_id, 1)])
    await c.checkouts.pay(buyer, view["id"], "4242424242424242", "demo-pay")
    order_id = view["orders"][0]["id"]
    await c.fulfilment.ship(seller, order_id, "dhl", "JD014600006281234567")
    return f"a shipped shop order #{order_id} for buyer1"


def _accounts() -> list[str]:
    return ["demo accounts (password: bidcast-demo): admin@bidcast.test, seller@bidcast.test, "
            "buyer1@bidcast.test .. buyer3@bidcast.test"]
