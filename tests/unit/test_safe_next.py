"""The login page's ?next= only ever leads to a plain path on this site."""
import pytest

from bidcast.web.pages.routes import _safe_next


@pytest.mark.parametrize("target", ["/", "/rooms/1", "/me/orders?x=1#order-2", "/%09/evil"])
def test_plain_paths_are_kept(target: str) -> None:
    assert _safe_next(target) == target


@pytest.mark.parametrize("target", [
    "//evil.example", "/\\evil.example", "/\\\\evil.example", "/\tevil.example", "https://evil.example",
    "evil.example", "javascript:alert(1)", "/x/{token.0}", "", " /rooms/1", "/ok\n",
])
def test_anything_else_goes_home(target: str) -> None:
    assert _safe_next(target) == "/"
