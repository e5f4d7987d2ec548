"""One person's bid flood is refused before it costs a stored attempt."""
import pytest

from bidcast.errors import AppError
from bidcast.services.bidding import Bidding


def test_a_burst_then_a_steady_rate_then_rate_limited() -> None:
    bidding = Bidding(None, None, None, None, burst=5, per_second=0.001)  # type: ignore[arg-type]
    for _ in range(5):
        bidding._throttle(7)
    with pytest.raises(AppError) as refused:
        bidding._throttle(7)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    bidding._throttle(8)  # somebody else is not affected
