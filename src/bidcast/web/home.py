"""Health checks for load balancers and orchestrators."""
from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> dict:
    async with request.app.state.c.db.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"status": "ready"}
