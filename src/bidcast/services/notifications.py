"""The notification center: a person's stored notifications, unread counts, read marks and
e-mail preferences.

Rows are written by the code whose change they report (storage/notify.py), in its own
transaction; outbid notices coalesce (services/outbid_notices.py). Reading is paged by id, newest
first: the cursor is the last id seen, so a page never repeats or skips a row while new ones
arrive on top.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..errors import AppError
from ..storage.models import Notification, NotificationSettings, utcnow
from ..storage.notify import KINDS


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def view(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
            "created_at": iso(n.created_at), "read_at": iso(n.read_at), "unread": n.read_at is None,
            "email": n.email_state}


class NotificationCenter:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def page(self, user_id: int, limit: int = 20, cursor: int | None = None,
                   unread_only: bool = False) -> dict[str, Any]:
        """Newest first; `next_cursor` is given while older rows may remain."""
        q = select(Notification).where(Notification.user_id == user_id)
        if cursor is not None:
            q = q.where(Notification.id < cursor)
        if unread_only:
            q = q.where(Notification.read_at.is_(None))
        async with self._sessions() as s:
            rows = list((await s.execute(q.order_by(Notification.id.desc()).limit(limit + 1))).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return {"notifications": [view(n) for n in rows],
                "next_cursor": str(rows[-1].id) if more and rows else None}

    async def latest(self, user_id: int, limit: int = 5) -> list[dict[str, Any]]:
        return (await self.page(user_id, limit))["notifications"]

    async def unread_count(self, user_id: int) -> int:
        async with self._sessions() as s:
            return (await s.execute(select(func.count()).select_from(Notification).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)))).scalar_one()

    async def mark_read(self, user_id: int, ids: list[int] | None = None) -> dict[str, int]:
        """Mark some (or, ids=None, all) of the person's notifications read; others' ids are
        ignored. Safe to repeat: read ones keep their first read time."""
        q = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        if ids is not None:
            q = q.where(Notification.id.in_(ids))
        async with self._sessions.begin() as s:
            res = await s.execute(q.values(read_at=utcnow()).execution_options(synchronize_session=False))
        return {"marked": res.rowcount or 0, "unread": await self.unread_count(user_id)}

    # -- e-mail preferences ------------------------------------------------------------------

    async def settings(self, user_id: int) -> dict[str, Any]:
        async with self._sessions() as s:
            row = await s.get(NotificationSettings, user_id)
        return settings_view(row)

    async def update_settings(self, user_id: int, email_enabled: bool | None,
                              muted_kinds: list[str] | None) -> dict[str, Any]:
        unknown = sorted(set(muted_kinds or ()) - KINDS)
        if unknown:
            raise AppError(422, "unknown_kind", f"Unknown notification kind: {', '.join(unknown)}.",
                           kinds=sorted(KINDS))
        for attempt in range(2):
            try:
                async with self._sessions.begin() as s:
                    row = await s.get(NotificationSettings, user_id, with_for_update=True)
                    if row is None:
                        row = NotificationSettings(user_id=user_id, email_enabled=True, muted_kinds="")
                        s.add(row)
                    if email_enabled is not None:
                        row.email_enabled = email_enabled
                    if muted_kinds is not None:
                        row.muted_kinds = ",".join(sorted(set(muted_kinds)))
                return settings_view(row)
            except IntegrityError:
                if attempt:
                    raise  # two first saves raced: the second try finds the row
        raise AssertionError("unreachable")


def settings_view(row: NotificationSettings | None) -> dict[str, Any]:
    muted = sorted(k for k in (row.muted_kinds.split(",") if row else []) if k)
    return {"email_enabled": True if row is None else row.email_enabled, "muted_kinds": muted,
            "kinds": sorted(KINDS)}


def wants_email(row: NotificationSettings | None, kind: str) -> bool:
    if row is None:
        return True
    return row.email_enabled and kind not in row.muted_kinds.split(",")
