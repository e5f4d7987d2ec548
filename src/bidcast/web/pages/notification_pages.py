"""The notification center page: /me/notifications is served with the other account pages
(seller.py, ME_PAGES → templates/me_notifications.html); its data and settings come from
/api/v1/me/notifications… (web/api/notifications.py), loaded by static/notifications.js."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
