"""Logging set-up: `BIDCAST_LOG_FORMAT=text` for people, `json` for log collectors.

JSON lines carry the time, level, logger, message, the worker and any structured fields a
caller passes with `extra={"fields": {...}}` (the request log does: request id, method, path,
status, duration)."""
from __future__ import annotations

import logging
import os
import re
import socket
import sys
from datetime import UTC, datetime

import orjson

_TOKEN = re.compile(r"token=[^&\s\"]+")


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._worker = f"{socket.gethostname()}:{os.getpid()}"

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name,
               "msg": _TOKEN.sub("token=***", record.getMessage()), "worker": self._worker}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class RedactTokens(logging.Filter):
    """Keep bearer tokens passed as ?token= out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub("token=***", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def setup(fmt: str = "text", level: str = "info") -> None:
    """One handler on the root logger, in this process (each worker calls it at start-up)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt.lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # One line per request comes from our own request log (with its id); not uvicorn's too.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
