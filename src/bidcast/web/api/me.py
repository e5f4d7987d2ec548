"""The signed-in person's own activity (routes are added by the module's owner)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["me"])
