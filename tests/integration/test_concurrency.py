"""Fifty bidders hammer one live lot at once, over real HTTP, on SQLite and PostgreSQL.

Whatever the interleaving, the lot keeps one gapless history: accepted bids are numbered 1..n
without holes, every acknowledged bid is in that history exactly as it was acknowledged, the
price only ever goes up, and at the close there is one winner and one order.
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from .api import Api, User

CLIENTS = 50
BIDS_PER_CLIENT = 40            # 2,000 bids in total
MAX_BID_SHARE = 0.1             # the rest are direct bids
# The lot starts with a deadline shorter than its soft close, so every bid that moves the price
# pushes the close to "now + 10 s": the lot stays open while the bids pour in, and closes on its
# own about ten seconds after the last one.
DURATION, SOFT_CLOSE = 10, 10
REFUSALS = {"too_low", "self_outbid", "max_not_higher"}


@dataclass
class Attempt:
    bidder: int
    kind: str          # "amount" | "max_amount"
    value: int
    status: int
    body: dict


def next_bid(price: int, ladder: list[list[int]]) -> int:
    step = [s for lo, s in ladder if lo <= price][-1]
    return price + step


def bidder(base_url: str, auction_id: int, user: User, n: int, ladder: list[list[int]],
           ready: threading.Barrier) -> list[Attempt]:
    """One client: bids from the last price it saw, learning from every answer it gets."""
    rng = random.Random(n)
    out: list[Attempt] = []
    with httpx.Client(base_url=base_url, headers=user.headers, timeout=60) as http:
        seen = http.get(f"/api/v1/auctions/{auction_id}").json()["auction"]["min_next_bid"]
        ready.wait()
        for i in range(BIDS_PER_CLIENT):
            step = next_bid(seen, ladder) - seen
            if rng.random() < MAX_BID_SHARE:
                kind, value = "max_amount", seen + rng.randint(2, 20) * step
            else:
                kind, value = "amount", seen + rng.choice([0, 0, 0, 1, 2]) * step
            r = http.post(f"/api/v1/auctions/{auction_id}/bids",
                          json={kind: value, "idempotency_key": f"c{n}-b{i}"})
            body = r.json()
            out.append(Attempt(user.id, kind, value, r.status_code, body))
            if r.status_code == 201:
                seen = next_bid(body["price"], ladder)
            elif body.get("error", {}).get("min_next_bid"):
                seen = body["error"]["min_next_bid"]
    return out


def test_fifty_concurrent_bidders_keep_one_gapless_history(api: Api) -> None:
    seller = api.seller()
    lot = api.live_lot(seller, start=False, starting_price=100)
    aid, room = lot["id"], lot["room_id"]
    with ThreadPoolExecutor(10) as pool:
        users = list(pool.map(lambda i: api.user(f"bidder{i}"), range(CLIENTS)))

    # Every client connects and reads the lot, then all start together with the lot.
    ready = threading.Barrier(CLIENTS + 1)
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(bidder, api.base_url, aid, u, n, lot["increments"], ready)
                   for n, u in enumerate(users)]
        r = api.http.post(f"/api/v1/rooms/{room}/lots/start-next", headers=seller.headers,
                          json={"duration_seconds": DURATION, "soft_close_seconds": SOFT_CLOSE})
        assert r.status_code == 200, r.text
        started = time.monotonic()
        ready.wait(timeout=60)
        attempts = [a for f in futures for a in f.result()]
    bidding_took = time.monotonic() - started

    # Every answer is an acceptance or an ordinary refusal: no errors, no lost requests.
    assert len(attempts) == CLIENTS * BIDS_PER_CLIENT
    unexpected = [(a.status, a.body) for a in attempts
                  if a.status != 201 and not (a.status == 409 and error_code_of(a) in REFUSALS)]
    assert not unexpected, f"{len(unexpected)} unexpected answers, e.g. {unexpected[:3]}"
    acked = sorted((a for a in attempts if a.status == 201), key=lambda a: a.body["seq"])
    assert acked, "no bid was accepted"
    assert not any(a.body["replayed"] for a in acked)

    # The history: seq 1..n without gaps, each entry exactly as its bidder was told.
    history = api.bids(aid)
    n = len(history)
    assert [b["seq"] for b in history] == list(range(1, n + 1))
    assert [a.body["seq"] for a in acked] == list(range(1, n + 1)), "acks and history differ"
    for a, b in zip(acked, history, strict=True):
        assert (b["bidder"]["id"], b["price"], b["leader_id"]) == (
            a.bidder, a.body["price"], a.body["leader_id"]), (a, b)

    # The price only goes up. The one accepted bid that leaves it where it was is the leader
    # raising their own secret maximum.
    for prev, cur in zip(history, history[1:]):
        raised_own_max = cur["bidder"]["id"] == prev["leader_id"] == cur["leader_id"]
        assert cur["price"] > prev["price"] or (raised_own_max and cur["price"] == prev["price"]), (prev, cur)
    deadlines = [a.body["closes_at"] for a in acked]
    assert deadlines == sorted(deadlines), "the soft close moved a deadline backwards"

    # The lot closes on its own: one winner, the leader after the last bid, and one order.
    view = api.wait_closed(aid, timeout=SOFT_CLOSE + 20)
    last = history[-1]
    assert (view["outcome"], view["winner_id"], view["final_price"]) == ("sold", last["leader_id"], last["price"])
    assert (view["bid_count"], view["last_seq"]) == (n, n + 1)  # the close takes the next seq

    by_id = {u.id: u for u in users}
    winner = by_id[last["leader_id"]]
    orders = [o for o in api.orders(winner) if o["auction_id"] == aid]
    assert [(o["total"]["amount"], o["status"]) for o in orders] == [(last["price"], "awaiting_payment")]
    assert [o["buyer_id"] for o in api.orders(seller, as_seller=True) if o["auction_id"] == aid] == [winner.id]
    with ThreadPoolExecutor(10) as pool:
        others = pool.map(lambda u: [o for o in api.orders(u) if o["auction_id"] == aid],
                          [u for u in users if u is not winner])
        assert not any(others)
    print(f"{n} of {len(attempts)} bids accepted; bidding took {bidding_took:.1f}s")


def error_code_of(a: Attempt) -> str | None:
    return a.body.get("error", {}).get("code")

