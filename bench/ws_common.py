"""Shared parts of the WebSocket benchmarks (bench/ws_broadcast.py, bench/ws_submissions.py).

The benchmark process sets up the data (through Django, against DATABASE_URL/REDIS_URL),
starts one daphne on a free loopback port with the flags recommended for production, and
starts load-client processes (the same script with --client) that speak to it with the
`websockets` library. Clients and the benchmark talk over the clients' stdin/stdout, one
line per message: the client prints READY once its sockets joined, and RESULT <json> at
the end; the benchmark writes commands to it.
"""

from __future__ import annotations

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
# The flags the tests, the Procfile and `make run` use.
from tests.servers import DAPHNE_FLAGS  # noqa: E402


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


class Daphne:
    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        handle, name = tempfile.mkstemp(prefix="bench-daphne-", suffix=".log")
        self.log = Path(name)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.proc = subprocess.Popen(
            [
                str(BIN / "daphne"),
                "-e",
                f"tcp:port={self.port}:interface=127.0.0.1:backlog=4096",
                *DAPHNE_FLAGS,
                "--access-log",
                os.devnull,
                "contestsite.asgi:application",
            ],
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
                raise RuntimeError(f"daphne exited:\n{self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/contest"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the daphne process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

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
            print(f"daphne logged {len(errors)} error lines, first: {errors[0]}")
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
