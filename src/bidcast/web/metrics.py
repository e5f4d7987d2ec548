"""/metrics for Prometheus, and the request log: one line per HTTP request with its id."""
from __future__ import annotations

import logging
import os
import re
import time
import uuid
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)

from .. import metrics
from ..services.ownership import worker_id

router = APIRouter()
log = logging.getLogger("bidcast.request")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def multiproc_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    if multiproc_dir():
        from prometheus_client import multiprocess
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def forget_dead_workers() -> None:
    """Gauges of workers that died (kill -9, then restarted by the supervisor) must not count."""
    d = multiproc_dir()
    if not d:
        return
    from prometheus_client import multiprocess
    for f in Path(d).glob("gauge_live*_*.db"):
        pid = f.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), d)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class RequestLog:
    """ASGI middleware: a request id (the client's X-Request-ID if sane, else a new one) echoed
    in the response with the worker that answered, one log line per request, and timings."""

    def __init__(self, app) -> None:
        self.app = app
        self._worker = worker_id().encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value.decode("latin-1")
                break
        if not _GOOD_ID.match(rid):
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode()),
                                      (b"x-bidcast-worker", self._worker)]
            await send(message)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            took = time.perf_counter() - started
            method = scope.get("method", "")
            metrics.HTTP.labels(method, f"{status // 100}xx").observe(took)
            path = scope.get("path", "")
            if path != "/metrics":
                log.info("%s %s %s %.1fms", method, path, status, took * 1000, extra={"fields": {
                    "request_id": rid, "method": method, "path": path, "status": status,
                    "duration_ms": round(took * 1000, 2)}})
