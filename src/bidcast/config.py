"""Settings from the environment (`BIDCAST_*`), 12-factor style."""
from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIDCAST_", extra="ignore")

    # SQLite file under var/ by default; PostgreSQL with postgresql://user@host:port/db
    database_url: str = "sqlite:///var/bidcast.db"
    # "full" fsyncs every commit (survives power loss); "normal" survives a process crash.
    sqlite_synchronous: str = "full"
    # Redis for fan-out between worker processes; empty: one process, in-memory broker.
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Signs session cookies; generated once into var/secret_key when not given.
    secret_key: str = ""
    # Default auction settings for a live lot.
    default_currency: str = "EUR"
    lot_duration_seconds: int = 30
    soft_close_seconds: int = 10
    # Largest number of bids the auction writer commits in one transaction.
    bid_batch_max: int = 512
    # Per-bidder flood limit: this many bids at once, then this many a second.
    # An auction winner pays within this window, else the order is cancelled and they get a strike.
    payment_window_seconds: int = 24 * 3600
    deadline_sweep_seconds: float = 30.0
    # A shop checkout's orders must be paid within this window, else they are cancelled and
    # their units go back in stock (no strike: an abandoned checkout hurts nobody).
    checkout_payment_window_seconds: int = 30 * 60
    # A flash-sale order must be paid within this window, else its units go back on sale.
    flash_payment_window_seconds: int = 10 * 60
    # Fulfilment and settlement (docs/orders.md). A delivered order completes after the return
    # window; the seller's share becomes available for payout after the hold. The *_seconds
    # overrides (when set) replace the days, for demos and tests.
    return_window_days: int = 7
    return_window_seconds: float | None = None
    funds_hold_days: int = 7
    funds_hold_seconds: float | None = None
    settlement_sweep_seconds: float = 60.0
    # Carriers a seller may ship with; carrier webhooks are signed with the carrier's own secret
    # (carrier_webhook_secrets, JSON {"dhl": "..."}) or else the shared one. Empty: webhooks refused.
    carriers: list[str] = ["dhl", "ups", "fedex", "usps", "dpd", "gls", "la_poste", "royal_mail", "postnl"]
    carrier_webhook_secret: str = ""
    carrier_webhook_secrets: dict[str, str] = {}
    bid_burst: int = 50
    bid_rate_per_s: float = 20.0
    # Returns (docs/returns.md): the seller answers a return within this many hours, else it is
    # approved automatically (the *_seconds override replaces the hours, for demos and tests).
    return_reply_hours: int = 48
    return_reply_seconds: float | None = None
    returns_sweep_seconds: float = 30.0
    # Payments (docs/payments.md). The sandbox keeps its records in the database ("memory": one
    # process only) and signs its webhooks with this secret (default: derived from secret_key),
    # delivered to payment_webhook_url (default: this server's /api/v1/payments/webhooks).
    sandbox_store: str = "database"
    payment_webhook_secret: str = ""
    payment_webhook_url: str = ""
    payment_webhook_tolerance_seconds: int = 300
    payment_outbox_seconds: float = 2.0
    # Files served at /media (product images, the demo's HLS stream).
    media_dir: str = "var/media"
    # Where hls.js was installed (by `make demo`), served at /static/vendor for browsers
    # without native HLS.
    hls_js_dir: str = ".venv/npm/node_modules/hls.js/dist"
    log_level: str = "info"
    # E-mail: smtp://user:pass@host:port (?starttls=1) or smtps://…; empty: no e-mail is sent.
    smtp_url: str = ""
    mail_from: str = "Bidcast <no-reply@bidcast.invalid>"
    # Absolute address of this site, for links in e-mails (default: http://host:port).
    public_url: str = ""
    mail_poll_seconds: float = 2.0
    mail_max_attempts: int = 5
    mail_retry_base_seconds: float = 30.0
    # How often unpaid orders are checked for a payment-due reminder.
    reminder_sweep_seconds: float = 60.0
    # Logs: "text" for people, "json" (one object per line, with request ids) for collectors.
    log_format: str = "text"
    # Several workers (needs PostgreSQL and Redis): each auction has one writer, the holder of
    # its lease; the lease lapses this long after its owner stops renewing it.
    lease_ttl_seconds: float = 3.0
    lease_renew_seconds: float = 1.0
    # A bid forwarded to the owning worker waits this long for its answer before re-routing.
    forward_timeout_seconds: float = 1.5
    # Room fan-out: shared events arriving within this many milliseconds of the last write to
    # the room's sockets are written together, one write per socket (0: each event at once).
    fanout_interval_ms: float = 50.0
    # ... and while bids are in flight in this process, a flush holds back its writes for at
    # most this many milliseconds in all, so the bids' loop turns are short (0: never).
    fanout_hold_ms: float = 20.0

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = VAR_DIR / "secret_key"
        if path.exists():
            return path.read_text().strip()
        VAR_DIR.mkdir(exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
