"""Pages: seller (routes are added by the module's owner)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
