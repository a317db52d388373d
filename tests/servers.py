"""Real processes for integration tests: the web server, a Celery worker, Celery beat.

Each runs as a subprocess against the test database (the one pytest-django created) and
the tests' Redis, so tests that use them need committed data: mark them
`@pytest.mark.django_db(transaction=True)`. Output goes to a log file that is printed
when a process fails to start.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """DATABASE_URL of the database pytest-django created for this session."""
    db = settings.DATABASES["default"]
    name = connection.settings_dict["NAME"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{name}"
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="false",
        PYTHONUNBUFFERED="1",
        # Small pools: many test processes share one PostgreSQL.
        DB_POOL_MAX_SIZE="8",
    )
    # uvicorn reads it as its number of worker processes: each test server is one.
    env.pop("WEB_CONCURRENCY", None)
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


class ServiceProcess:
    """A subprocess with its output in a temporary log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        # A folder of files the process writes (celery beat's schedule), removed on stop.
        self.scratch: Path | None = None

    def start(self) -> ServiceProcess:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            self._fail_if_exited()
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not print {needle!r}:\n{self.output()[-4000:]}")

    def wait_for_port(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._fail_if_exited()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {port}:\n{self.output()[-4000:]}")

    def _fail_if_exited(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-4000:]}"
            )

    def kill(self) -> None:
        """SIGKILL the whole process group: what a crash looks like."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.unlink(missing_ok=True)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


# The flags docs/PROTOCOL.md and the Procfile rely on: heartbeat, a listen backlog that
# takes a burst of connections (daphne's default is 50), and the server's own message size
# limit above the application's WS_MAX_MESSAGE_BYTES (so the application's close applies).
# uvicorn serves the Procfile and `make run` (docs/PERFORMANCE.md, "The ASGI server");
# daphne keeps working (the design card names it) and its own tests run on it.
UVICORN_FLAGS = [
    "--backlog=4096",
    "--loop=uvloop",
    "--http=httptools",
    "--ws=websockets-sansio",
    "--ws-max-size=65536",
    "--ws-ping-interval=30",
    "--ws-ping-timeout=30",
    "--ws-per-message-deflate=false",
    "--lifespan=on",
    "--no-access-log",
    "--proxy-headers",
]
DAPHNE_FLAGS = [
    "--ping-interval",
    "30",
    "--ping-timeout",
    "30",
    "--websocket-max-message-size",
    "65536",
    "--websocket-max-frame-size",
    "65536",
]
SERVERS = ("uvicorn", "daphne")


def server_command(kind: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line of a web process serving the project on host:port."""
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            f"--host={host}",
            f"--port={port}",
            *UVICORN_FLAGS,
            "contestsite.asgi:application",
        ]
    if kind == "daphne":
        return [
            str(BIN / "daphne"),
            "-e",
            f"tcp:port={port}:interface={host}:backlog=4096",
            *DAPHNE_FLAGS,
            "contestsite.asgi:application",
        ]
    raise ValueError(f"unknown web server {kind!r}")


class WebServer(ServiceProcess):
    """A web process (uvicorn as the Procfile runs it, or daphne) on a free port."""

    def __init__(
        self, env: dict[str, str], kind: str = "uvicorn", extra_args: list[str] | None = None
    ) -> None:
        self.port = free_port()
        self.kind = kind
        command = server_command(kind, self.port)
        # Before the application's path; a flag given twice takes the later value.
        command[-1:-1] = extra_args or []
        super().__init__(kind, command, env)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/contest"

    def start(self) -> WebServer:
        super().start()
        self.wait_for_port(self.port)
        return self


def celery_worker(env: dict[str, str]) -> ServiceProcess:
    return ServiceProcess(
        "celery-worker",
        [
            str(BIN / "celery"),
            "-A",
            "contestsite",
            "worker",
            "--loglevel=INFO",
            "--pool=threads",
            "--concurrency=4",
            "--without-gossip",
            "--without-mingle",
        ],
        env,
    )


def celery_beat(env: dict[str, str]) -> ServiceProcess:
    scratch = Path(tempfile.mkdtemp(prefix="celerybeat-"))
    beat = ServiceProcess(
        "celery-beat",
        [
            str(BIN / "celery"),
            "-A",
            "contestsite",
            "beat",
            "--loglevel=INFO",
            "-s",
            str(scratch / "schedule"),
        ],
        env,
    )
    beat.scratch = scratch
    return beat


@pytest.fixture
def web_server(transactional_db) -> Iterator[WebServer]:
    """A real web process (uvicorn, as the Procfile runs it) serving the project on a free
    port, against the test database."""
    server = WebServer(child_env()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=SERVERS)
def each_web_server(request, transactional_db) -> Iterator[WebServer]:
    """The project on each web server in turn (uvicorn, then daphne): for what each
    server's adapter does (realtime/uvicorn_compat.py, realtime/daphne_compat.py)."""
    server = WebServer(child_env(), kind=request.param).start()
    try:
        yield server
    finally:
        server.stop()
