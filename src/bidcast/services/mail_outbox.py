"""E-mail delivery from the notifications outbox.

Every process runs this loop. It takes a small batch of due rows and CLAIMS them with one
guarded UPDATE (`… WHERE id IN (…) AND <still due>`): the state moves to `sending` with a lease,
so only one process can win a row (PostgreSQL re-checks the condition after waiting for a
concurrent claim; SQLite serializes writers). Then it sends, and records each outcome:
`sent`; or back to `pending` with an exponential back-off; or `failed` after max attempts.

Guarantee: at most one send per claim. If a process dies between sending and recording, the
lease expires and the row is claimed again, so a crash at exactly that moment can send one
message twice (at-least-once across crashes); nothing is ever lost.

Without BIDCAST_SMTP_URL, due rows are marked `skipped`; so are the kinds a person muted.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..storage.models import Notification, NotificationSettings, User, utcnow
from .mailer import SmtpSender, compose
from .notifications import wants_email

log = logging.getLogger("bidcast.mail")


class MailOutbox:
    def __init__(self, sessions: async_sessionmaker, sender: SmtpSender | None, mail_from: str,
                 base_url: str, batch: int = 20, max_attempts: int = 5, retry_base_s: float = 30.0,
                 poll_s: float = 2.0, lease_s: float = 300.0) -> None:
        self._sessions = sessions
        self._sender = sender
        self._from = mail_from
        self._base = base_url.rstrip("/")
        self._batch, self._max_attempts = batch, max_attempts
        self._retry_base_s, self._poll_s, self._lease_s = retry_base_s, poll_s, lease_s
        self._task: asyncio.Task | None = None
        self.sent = self.failed = self.skipped = 0

    def _due(self, now):  # noqa: ANN001, ANN202
        return or_(and_(Notification.email_state == "pending",
                        or_(Notification.email_next_at.is_(None), Notification.email_next_at <= now)),
                   and_(Notification.email_state == "sending", Notification.email_next_at < now))

    async def run_once(self) -> int:
        """Deliver one batch; returns how many rows it settled (0: nothing was due)."""
        now = utcnow()
        async with self._sessions() as s:
            ids = [i for (i,) in await s.execute(select(Notification.id).where(self._due(now))
                                                 .order_by(Notification.id).limit(self._batch))]
        if not ids:
            return 0
        if self._sender is None:
            async with self._sessions.begin() as s:
                res = await s.execute(update(Notification).where(Notification.id.in_(ids), self._due(now))
                                      .values(email_state="skipped")
                                      .execution_options(synchronize_session=False))
            self.skipped += res.rowcount or 0
            return len(ids)
        async with self._sessions.begin() as s:
            claimed = (await s.execute(
                update(Notification).where(Notification.id.in_(ids), self._due(now))
                .values(email_state="sending", email_attempts=Notification.email_attempts + 1,
                        email_next_at=now + timedelta(seconds=self._lease_s))
                .returning(Notification.id, Notification.user_id, Notification.kind,
                           Notification.title, Notification.body, Notification.link,
                           Notification.email_attempts)
                .execution_options(synchronize_session=False))).all()
            users = {u.id: (u.email, pref) for u, pref in (await s.execute(
                select(User, NotificationSettings)
                .outerjoin(NotificationSettings, NotificationSettings.user_id == User.id)
                .where(User.id.in_({c.user_id for c in claimed})))).all()} if claimed else {}
        if not claimed:
            return len(ids)  # another process took them
        to_send, skipped = [], []
        for c in claimed:
            email, pref = users.get(c.user_id, (None, None))
            if email and wants_email(pref, c.kind):
                to_send.append((c, self._message(email, c)))
            else:
                skipped.append(c.id)
        outcomes = await self._sender.send([m for _, m in to_send]) if to_send else []
        await self._record([(c, err) for (c, _), err in zip(to_send, outcomes, strict=True)], skipped)
        return len(ids)

    def _message(self, email: str, c) -> object:  # noqa: ANN001
        link = f"{self._base}{c.link}" if c.link and c.link.startswith("/") else None
        footer = f"E-mail settings: {self._base}/me/notifications#email-settings"
        return compose(self._from, email, c.title, [c.title, *([c.body] if c.body else [])], link, footer)

    async def _record(self, outcomes: list, skipped: list[int]) -> None:
        now = utcnow()
        sending = Notification.email_state == "sending"
        async with self._sessions.begin() as s:
            if skipped:
                await s.execute(update(Notification).where(Notification.id.in_(skipped), sending)
                                .values(email_state="skipped", email_next_at=None)
                                .execution_options(synchronize_session=False))
                self.skipped += len(skipped)
            sent = [c.id for c, err in outcomes if err is None]
            if sent:
                await s.execute(update(Notification).where(Notification.id.in_(sent), sending)
                                .values(email_state="sent", emailed_at=now, email_next_at=None)
                                .execution_options(synchronize_session=False))
                self.sent += len(sent)
            for c, err in outcomes:
                if err is None:
                    continue
                final = c.email_attempts >= self._max_attempts
                delay = min(3600.0, self._retry_base_s * 2 ** (c.email_attempts - 1))
                await s.execute(update(Notification).where(Notification.id == c.id, sending).values(
                    email_state="failed" if final else "pending",
                    email_next_at=None if final else now + timedelta(seconds=delay))
                    .execution_options(synchronize_session=False))
                if final:
                    self.failed += 1
                    log.warning("e-mail for notification %d failed after %d attempts: %s",
                                c.id, c.email_attempts, err)
                else:
                    log.info("e-mail for notification %d: attempt %d failed (%s); retry in %.1f s",
                             c.id, c.email_attempts, err, delay)

    def start(self) -> None:
        async def loop() -> None:
            while True:
                try:
                    n = await self.run_once()
                except Exception:
                    log.exception("e-mail delivery failed")
                    n = 0
                if n < self._batch:  # drained: wait; a full batch goes on at once
                    await asyncio.sleep(self._poll_s)
        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
