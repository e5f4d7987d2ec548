"""The ASGI application factory."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from itsdangerous import Signer

from . import bootstrap, logs
from .config import Settings, get_settings
from .web import errors, home, ws
from .web import metrics as metrics_web
from .web.pages import live as live_pages
from .web.pages import routes as pages
from .web.pages import notification_pages, order_pages, return_pages, shop_pages
from .web.pages import seller as seller_pages
from .web.pages.render import HERE as PAGES_DIR
from .web.api import (accounts, admin, auctions, chat, flash, fulfilment, me, notifications, products,
                      returns, rooms, shop, shops)

log = logging.getLogger("bidcast")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.setup(settings.log_format, settings.log_level)
    metrics_web.forget_dead_workers()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        c = bootstrap.build(settings)
        app.state.c = c
        await c.start()
        await c.bidding.router.start()
        recovered = await c.engine.recover()
        c.engine.start_sweeper(settings.lease_renew_seconds if c.engine.owner else 5.0)
        c.deadlines.start(settings.deadline_sweep_seconds)
        log.info("recovered %d running auctions", recovered)
        try:
            yield
        finally:
            # Sockets close first ("service restart": clients reconnect to another worker), the
            # writers finish their batches and release their leases, then the rest stops.
            await c.close()
            await c.bidding.router.stop()

    app = FastAPI(title="Bidcast", version="0.1.0", lifespan=lifespan,
                  description="Live auctions, flash sales and a seller center.")
    app.state.signer = Signer(settings.resolved_secret_key(), salt="bidcast.session")
    errors.install(app)
    app.add_middleware(ws.SocketTap)
    app.add_middleware(metrics_web.RequestLog)
    app.include_router(metrics_web.router)
    for module in (accounts, shops, products, rooms, auctions, chat, admin, me, fulfilment, returns,
                   shop, flash, notifications):
        app.include_router(module.router)
    app.include_router(ws.router)
    app.include_router(home.router)
    for pages_module in (pages, live_pages, seller_pages, order_pages, return_pages, shop_pages,
                         notification_pages):
        app.include_router(pages_module.router)
    hls_js = Path(settings.hls_js_dir)
    if hls_js.is_dir():
        app.mount("/static/vendor", StaticFiles(directory=hls_js), name="vendor")
    app.mount("/static", StaticFiles(directory=PAGES_DIR / "static"), name="static")
    media = Path(settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=media), name="media")
    return app
