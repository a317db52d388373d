"""Shared parts of the WebSocket benchmarks (bench/ws_broadcast.py, bench/ws_submissions.py).

The benchmark process sets up the data (through Django, against DATABASE_URL/REDIS_URL),
starts one web server (uvicorn, or --server daphne or granian) on a free loopback port with
the flags recommended for production, and starts load-client processes (the same script
with --client) that speak to it with the `websockets` library. Clients and the benchmark
talk over the clients' stdin/stdout, one line per message: the client prints READY once
its sockets joined, and RESULT <json> at the end; the benchmark writes commands to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

sys.path.insert(0, str(ROOT))
# The web servers' command lines with the flags the tests, the Procfile and `make run` use.
from tests.servers import server_command as web_server_command  # noqa: E402


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The ASGI servers the benchmarks can run the project's app on (docs/PERFORMANCE.md, "The
# ASGI server"): uvicorn and daphne as the Procfile and the tests run them, and granian
# (one worker, uvloop, no lifespan) for comparison.
SERVERS = ("uvicorn", "daphne", "granian")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """--server and --web-processes, for the benchmarks that start one web server."""
    parser.add_argument("--server", choices=SERVERS, default="uvicorn", help="the web server")
    parser.add_argument(
        "--web-processes", type=int, default=1, help="uvicorn workers sharing the port"
    )


def server_command(kind: str, port: int) -> list[str]:
    if kind == "granian":
        return [
            str(BIN / "granian"),
            "--interface=asginl",
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
            "--loop=uvloop",
            "--backlog=4096",
            "contestsite.asgi:application",
        ]
    return web_server_command(kind, port)


class WebServer:
    """The project's ASGI app on one server process (granian: its worker and its parent)
    on a free loopback port; with `workers`, that many uvicorn worker processes sharing
    the port (their parent holds the listening socket, each worker accepts from it)."""

    def __init__(
        self, extra_env: dict[str, str] | None = None, kind: str = "uvicorn", workers: int = 1
    ) -> None:
        self.kind = kind
        self.port = free_port()
        command = server_command(kind, self.port)
        if workers > 1:
            if kind != "uvicorn":
                raise ValueError("several workers: uvicorn only")
            command[-1:-1] = [f"--workers={workers}"]
        handle, name = tempfile.mkstemp(prefix=f"bench-{kind}-", suffix=".log")
        self.log = Path(name)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        env.pop("WEB_CONCURRENCY", None)  # uvicorn's workers: --web-processes says
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(handle)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} exited:\n{self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{kind} did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/contest"

    def _pids(self) -> list[int]:
        """The server's processes: every process of the session it leads."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[3]) == self.proc.pid:  # the session id
                pids.append(int(stat.parent.name))
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes so far."""
        total = 0
        for pid in self._pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        total = 0
        for pid in self._pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        errors = [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if "ERROR" in line or "Traceback" in line
        ]
        if errors:
            print(f"{self.kind} logged {len(errors)} error lines, first: {errors[0]}")
        self.log.unlink(missing_ok=True)


class ClientProcess:
    """A load-client process: `script --client` with its share of the tokens."""

    def __init__(self, script: str, tokens: Sequence[str], args: Sequence[str]) -> None:
        handle, name = tempfile.mkstemp(prefix="bench-tokens-", suffix=".json")
        self.tokens_file = Path(name)
        with os.fdopen(handle, "w") as f:
            json.dump(list(tokens), f)
        self.proc = subprocess.Popen(
            [sys.executable, script, "--client", name, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def expect(self, word: str) -> str:
        """The rest of the next line starting with `word`."""
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"load client exited ({self.proc.wait()}) before {word}")
            if line.startswith(word):
                return line[len(word) :].strip()
            sys.stdout.write(f"  client: {line}")

    def tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tokens_file.unlink(missing_ok=True)


def say(stream: IO[str], word: str, payload: Any = None) -> None:
    """Client side of the line protocol."""
    stream.write(word if payload is None else f"{word} {json.dumps(payload)}")
    stream.write("\n")
    stream.flush()


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def split(items: Sequence[str], parts: int) -> list[list[str]]:
    return [list(items[i::parts]) for i in range(parts)]


async def open_joined(url: str, token: str, contest_id: str) -> Any:
    """A load client's socket, joined to the contest (its contest_state read)."""
    from websockets.asyncio.client import connect

    ws = await connect(
        f"{url}?token={token}", compression=None, ping_interval=None, open_timeout=60
    )
    await ws.send(json.dumps({"event": "join_contest", "data": {"contestId": contest_id}}))
    while json.loads(await ws.recv())["event"] != "contest_state":
        pass
    return ws
