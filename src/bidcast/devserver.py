"""A `bidcast serve` process on a free port, for tests, benchmarks and the demo.

It runs the real command in a child process (so it can be killed with SIGKILL mid-auction) and
waits until /healthz answers.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bidcast(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    """Run a `bidcast` CLI command to completion (raises on failure)."""
    return subprocess.run([sys.executable, "-m", "bidcast", *args], env=env, check=True,
                          capture_output=True, text=True, **kw)


def wait_healthy(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


@dataclass
class ServerProcess:
    database_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    secret_key: str = "local-secret"
    workers: int = 1  # > 1: `bidcast serve --workers N` (PostgreSQL and Redis)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"BIDCAST_DATABASE_URL": self.database_url, "BIDCAST_PORT": str(self.port),
                    "BIDCAST_SECRET_KEY": self.secret_key, "BIDCAST_LOG_LEVEL": "warning"})
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        bidcast(["db", "upgrade"], self.env, cwd=self.workdir)

    def create_admin(self, email: str, password: str) -> None:
        bidcast(["create-admin", email, "--password", password], self.env, cwd=self.workdir)

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"server-{self.port}.log"
        with open(self.log_path, "ab") as log:
            args = ["--workers", str(self.workers)] if self.workers > 1 else []
            self.proc = subprocess.Popen([sys.executable, "-m", "bidcast", "serve", *args], env=self.env,
                                         cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        if not wait_healthy(self.url, timeout, self.proc):
            code = self.proc.poll()
            self.stop()
            raise RuntimeError(f"server did not become healthy (exit {code}); see {self.log_path}")
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def worker_pids(self) -> list[int]:
        """The worker processes under a `--workers N` supervisor (children of the server)."""
        assert self.proc is not None
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
