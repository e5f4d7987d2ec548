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
    bid_burst: int = 50
    bid_rate_per_s: float = 20.0
    # Files served at /media (product images, the demo's HLS stream).
    media_dir: str = "var/media"
    # Where hls.js was installed (by `make demo`), served at /static/vendor for browsers
    # without native HLS.
    hls_js_dir: str = ".venv/npm/node_modules/hls.js/dist"
    log_level: str = "info"

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
