"""The `bidcast` command."""
from __future__ import annotations

import asyncio

import typer

from .config import get_settings

app = typer.Typer(help="Bidcast: live auctions and live commerce.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def serve(host: str = typer.Option(None, help="Bind address (BIDCAST_HOST)."),
          port: int = typer.Option(None, help="Port (BIDCAST_PORT)."),
          log_level: str = typer.Option(None, help="Log level (BIDCAST_LOG_LEVEL)."),
          workers: int = typer.Option(None, min=1, help="Worker processes behind the one port "
                                      "(BIDCAST_WORKERS); more than one needs PostgreSQL and Redis.")) -> None:
    """Serve the API and pages."""
    import os

    import uvicorn

    from . import logs
    s = get_settings()
    workers = workers or int(os.environ.get("BIDCAST_WORKERS", "1") or 1)
    problem = workers_problem(workers, s.database_url, s.redis_url)
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    logs.setup(s.log_format, log_level or s.log_level)
    if workers > 1:
        prepare_multiproc_metrics()
    # With workers > 1 uvicorn binds the port once and supervises the worker processes: each
    # accepts on the shared socket, and a worker that dies (even by SIGKILL) is replaced.
    uvicorn.run("bidcast.app:create_app", factory=True, host=host or s.host, port=port or s.port,
                workers=workers if workers > 1 else None,
                log_level=(log_level or s.log_level).lower(), access_log=False, log_config=None,
                timeout_graceful_shutdown=10,
                # Room events go to thousands of sockets: compressing each copy per socket
                # would cost more CPU than the bandwidth it saves on these small frames.
                ws_per_message_deflate=False, ws_max_size=65_536)


def workers_problem(workers: int, database_url: str, redis_url: str) -> str | None:
    """Why `workers` processes cannot share this deployment, or None."""
    if workers <= 1:
        return None
    missing = []
    if not database_url.startswith("postgresql"):
        missing.append("PostgreSQL (BIDCAST_DATABASE_URL=postgresql://...): SQLite allows one writer process")
    if not redis_url:
        missing.append("Redis (BIDCAST_REDIS_URL=redis://...): the in-memory broker serves one process")
    if not missing:
        return None
    return f"--workers {workers} needs " + " and ".join(missing)


def prepare_multiproc_metrics() -> None:
    """Workers write their metrics to files in one directory that /metrics sums up; it must
    start empty (values of an earlier run would be added in)."""
    import os
    import tempfile
    from pathlib import Path
    d = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not d:
        d = tempfile.mkdtemp(prefix="bidcast-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = d
    Path(d).mkdir(parents=True, exist_ok=True)
    for f in Path(d).glob("*.db"):
        f.unlink()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from .storage.migrate import upgrade
    upgrade(get_settings().database_url, revision)
    typer.echo("database is up to date")


@app.command("create-admin")
def create_admin(email: str, password: str = typer.Option(..., prompt=True, hide_input=True),
                 name: str = "Admin") -> None:
    """Create an admin account (or make an existing account admin)."""
    from . import bootstrap

    async def run() -> None:
        c = bootstrap.build(get_settings())
        try:
            who = await c.accounts.create_admin(email, password, name)
            typer.echo(f"admin #{who.id} {who.email}")
        finally:
            await c.db.dispose()
    asyncio.run(run())


@app.command("seed-demo")
def seed_demo() -> None:
    """Fill the database with demo sellers, products and a live room (safe to run twice)."""
    from .demo import seed
    for line in asyncio.run(seed(get_settings())):
        typer.echo(line)


@app.command()
def demo(port: int = typer.Option(None, help="Port (BIDCAST_PORT)."),
         viewers: int = typer.Option(25, help="Simulated viewers."),
         bidders: int = typer.Option(6, help="Simulated bidders.")) -> None:
    """Serve a seeded demo with a live HLS test stream and a simulated crowd bidding and chatting."""
    import subprocess
    import sys
    from pathlib import Path

    from .demo import DEMO_STREAM, PASSWORD
    from .demo import seed as seed_demo_data
    from .devserver import wait_healthy
    from .media import start_test_stream
    from .storage.migrate import upgrade

    import signal

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _stop)
    s = get_settings()
    port = port or s.port
    upgrade(s.database_url)
    for line in asyncio.run(seed_demo_data(s)):
        typer.echo(line)
    children: list[subprocess.Popen] = []
    env = {**__import__("os").environ, "BIDCAST_PORT": str(port)}
    try:
        stream = start_test_stream(Path(s.media_dir), DEMO_STREAM)
        if stream:
            children.append(stream[0])
        else:
            typer.echo("ffmpeg not found: the room shows its poster instead of a live video")
        server = subprocess.Popen([sys.executable, "-m", "bidcast", "serve", "--port", str(port),
                                   "--log-level", "warning"], env=env)
        children.append(server)
        url = f"http://{s.host}:{port}"
        if not wait_healthy(url, 30, server):
            typer.echo("the server did not start; see the messages above", err=True)
            raise typer.Exit(1)
        children.append(subprocess.Popen([
            sys.executable, "-m", "bidcast", "simulate", "--url", url, "--room", "1",
            "--viewers", str(viewers), "--bidders", str(bidders), "--chatters", "3", "--seconds", "0",
            "--host-email", "seller@bidcast.test", "--host-password", PASSWORD, "--lot-seconds", "30"],
            env=env, stdout=subprocess.DEVNULL))
        typer.echo(f"\n  Bidcast demo is live: {url}/rooms/1   (home: {url}/)\n"
                   f"  Log in as buyer1@bidcast.test / {PASSWORD} to bid against the crowd;\n"
                   f"  seller@bidcast.test hosts the room (console: {url}/host/rooms/1).\n"
                   "  Ctrl-C stops everything.\n")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


@app.command()
def simulate(url: str = typer.Option("http://127.0.0.1:8000", help="The running server."),
             room: int = typer.Option(1, help="Room id."),
             viewers: int = typer.Option(20, help="Anonymous viewers."),
             bidders: int = typer.Option(6, help="Bidders (eager, sniper and proxy styles)."),
             chatters: int = typer.Option(3, help="Chatting users."),
             seconds: float = typer.Option(60, help="How long; 0 runs until interrupted."),
             host_email: str = typer.Option("", help="Run the show as this host: start lots as they close."),
             host_password: str = typer.Option("", help="The host's password."),
             lot_seconds: int = typer.Option(30, help="Length of each lot the host starts."),
             chat_rate: float = typer.Option(0.3, help="Messages per second per chatter."),
             soft_close: int = typer.Option(None, help="Soft-close window of the lots the host starts."),
             lots: int = typer.Option(0, help="With a host: run this many lots, then stop once the last closed."),
             bid_pace: float = typer.Option(1.0, help="Seconds between a bidder's looks at the lot."),
             sample_every: int = typer.Option(1, min=1, help="Measure delivery on one viewer in N.")) -> None:
    """Bring a simulated crowd into a live room over real WebSockets."""
    import json as _json

    from .simulate import simulate as run
    host = (host_email, host_password) if host_email else None
    try:  # the crowd shares the machine with the server in benchmarks: the faster loop when there
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    summary = run_loop(run(url, room, viewers, bidders, chatters, seconds, host, lot_seconds, chat_rate,
                           bid_pace, soft_close, lots, sample_every))
    typer.echo(_json.dumps(summary))


if __name__ == "__main__":
    app()
