"""A real local SMTP server (aiosmtpd) and server processes that send it their e-mail."""
from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from .api import ADMIN_EMAIL, PASSWORD
from .conftest import UNTHROTTLED
from .servers import IN_CI, Server, create_pg_database, free_port, postgres_reachable


class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self.received if address in rcpt]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.to(address)


class Smtp:
    """An aiosmtpd server on a free port; it can be stopped and started again (an outage)."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A database of its own (a server with other settings must not share one)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bidcast.db'}"
        return
    reason = postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    url, drop = create_pg_database()
    try:
        yield url
    finally:
        drop()


@contextmanager
def server_with(backend: str, tmp: Path, env: dict[str, str]) -> Iterator[Server]:
    with fresh_database(backend, tmp) as url:
        server = Server(url, tmp, extra_env=dict(UNTHROTTLED) | env)
        server.migrate()
        server.create_admin(ADMIN_EMAIL, PASSWORD)
        server.start()
        try:
            yield server
        finally:
            server.stop()


FAST_MAIL = {"BIDCAST_MAIL_POLL_SECONDS": "0.2", "BIDCAST_MAIL_RETRY_BASE_SECONDS": "0.3",
             "BIDCAST_MAIL_MAX_ATTEMPTS": "3", "BIDCAST_MAIL_FROM": "Bidcast <mail@bidcast.test>",
             "BIDCAST_PUBLIC_URL": "https://bidcast.test"}
