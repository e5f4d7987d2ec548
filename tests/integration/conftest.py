from __future__ import annotations

import pytest

from .api import ADMIN_EMAIL, PASSWORD, Api
from .servers import IN_CI, Server, create_pg_database, postgres_reachable


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this run (required in CI, skipped with a reason elsewhere)."""
    reason = postgres_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {reason}")
        pytest.skip(reason)
    url, drop = create_pg_database()
    yield url
    drop()


def database_url(backend: str, request: pytest.FixtureRequest, tmp_path_factory) -> str:  # noqa: ANN001
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'bidcast.db'}"
    return request.getfixturevalue("pg_database")


# The shared servers lift the per-bidder flood limit: several tests flood one lot on purpose
# (the limit itself is tested in tests/unit/test_bid_throttle.py).
UNTHROTTLED = {"BIDCAST_BID_BURST": "1000000", "BIDCAST_BID_RATE_PER_S": "1000000"}


def start_server(url: str, workdir) -> Server:  # noqa: ANN001
    server = Server(url, workdir, extra_env=dict(UNTHROTTLED))
    server.migrate()
    server.create_admin(ADMIN_EMAIL, PASSWORD)
    return server.start()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):  # noqa: ANN001
    url = database_url(request.param, request, tmp_path_factory)
    srv = start_server(url, tmp_path_factory.mktemp(f"srv-{request.param}"))
    yield srv
    srv.stop()


@pytest.fixture
def api(server: Server):
    client = Api(server.url)
    yield client
    client.close()
