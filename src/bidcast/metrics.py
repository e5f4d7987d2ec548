"""Prometheus metrics of one process (exposed at /metrics by web/metrics.py).

With several workers, `bidcast serve --workers N` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before the workers start, so each worker writes its values to files there and
/metrics (whichever worker answers) sums them over all live workers.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

BIDS = Counter("bidcast_bids_total", "Bids decided by this process's auction writers.",
               ["outcome", "reason"])
BID_ACK = Histogram("bidcast_bid_ack_seconds",
                    "From a bid reaching a worker to its answer (after the owner's commit).",
                    ["route"], buckets=_LATENCY)
BID_STAGE = Histogram("bidcast_bid_stage_seconds",
                      "Where a bid's time goes: waiting in its writer's queue, the group commit; and for a bid "
                      "over a room socket, its message read -> its answer written (socket).",
                      ["stage"], buckets=_LATENCY)
LOOP_LAG = Histogram("bidcast_event_loop_lag_seconds",
                     "How late a timer of this worker's event loop fires: what every callback waits.",
                     buckets=_LATENCY)
GC_PAUSE = Histogram("bidcast_gc_pause_seconds",
                     "Collections of Python's cyclic garbage collector: the loop stops for each.",
                     ["generation"], buckets=_LATENCY)
BID_BATCH = Histogram("bidcast_bid_batch_size", "Bids per group commit.",
                      buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
FORWARDED = Counter("bidcast_bids_forwarded_total", "Bids sent to the owning worker of their auction.",
                    ["result"])
VIEWERS = Gauge("bidcast_viewers", "Connected room sockets.", multiprocess_mode="livesum")
FANOUT = Histogram("bidcast_fanout_seconds",
                   "From an event's publication to its fan-out to this worker's sockets.",
                   buckets=_LATENCY)
SLOW_CLIENTS = Counter("bidcast_socket_overflows_total",
                       "Sockets that fell behind (events coalesced into a snapshot) or were dropped.",
                       ["kind"])
DB_ERRORS = Counter("bidcast_db_errors_total", "Database operations that failed.", ["op"])
REDIS_ERRORS = Counter("bidcast_redis_errors_total", "Redis operations that failed.", ["op"])
LEASES = Counter("bidcast_lease_changes_total",
                 "Auction leases taken, lost to another worker, or released.", ["change"])
LEASES_HELD = Gauge("bidcast_leases_held", "Auctions this worker writes.", multiprocess_mode="livesum")
HTTP = Histogram("bidcast_http_request_seconds", "HTTP requests by method and status class.",
                 ["method", "status"], buckets=_LATENCY)

# Error and drop counters appear at zero from the start (dashboards and alerts need the series).
for _op in ("save_bids", "sweep"):
    DB_ERRORS.labels(_op)
for _op in ("publish", "read", "forward", "inbox", "reply"):
    REDIS_ERRORS.labels(_op)
for _stage in ("queued", "commit", "socket"):
    BID_STAGE.labels(_stage)
for _kind in ("overflow", "dropped"):
    SLOW_CLIENTS.labels(_kind)
for _change in ("taken", "lost", "released"):
    LEASES.labels(_change)
for _result in ("ok", "timeout", "moved", "error"):
    FORWARDED.labels(_result)
