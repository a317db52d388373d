"""The fault harness: the whole stack (web processes, a Celery worker, beat) against a
Redis of its own behind a TCP proxy, bot players that play like the web client, and the
invariants every scenario ends with (docs/RELIABILITY.md).

The Redis runs on a free port with nothing on disk, so a test can stop, restart or flush
it without touching the shared one; the proxy in front of it can cut every connection
while Redis keeps its data (a network partition). The processes reach Redis only through
the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contests.models import Contest, Participant, Submission
from leaderboard.models import FinalStanding
from leaderboard.selectors import standings_from_database
from realtime.models import OutboxEvent
from tests.servers import (
    ServiceProcess,
    WebServer,
    celery_beat,
    celery_worker,
    child_env,
    free_port,
)

TIMEOUT = 30


# --- Redis and the proxy in front of it ----------------------------------------------------


class PrivateRedis:
    """A redis-server of the test's own, on a free port, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fault-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private Redis did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def flushall(self) -> None:
        redis.Redis(port=self.port).flushall()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class TcpProxy:
    """Forwards a local port to Redis; `cut()` drops every connection and refuses new ones
    until `mend()`, while Redis keeps running with its data."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=512)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.refusing = False
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with self._lock:
                    self._open.discard(s)
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        self.refusing = True
        with self._lock:
            sockets = list(self._open)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def mend(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


# --- The stack ---------------------------------------------------------------------------


class Stack:
    """Web processes, a worker and a beat, all reaching Redis through the proxy."""

    def __init__(
        self,
        *,
        web: int = 1,
        beats: int = 1,
        proxy: bool = True,
        server: str = "uvicorn",
        **env: str,
    ) -> None:
        self.redis = PrivateRedis().start()
        # Without the proxy (a load run), the processes reach Redis directly: the proxy's
        # threads would spend the caller's CPU on every byte.
        self.proxy = TcpProxy(self.redis.port) if proxy else None
        self.env = child_env(
            REDIS_URL=self.proxy.url if self.proxy else f"redis://127.0.0.1:{self.redis.port}/0",
            REDIS_KEY_PREFIX=f"fault{self.redis.port}",
            TIMER_INTERVAL_SECONDS="0.5",
            LEADERBOARD_INTERVAL_SECONDS="1",
            WS_CATCH_UP_INTERVAL_SECONDS="1",
            SUBMISSION_GRACE_MS="300",
            SHUTDOWN_TIMEOUT_SECONDS="5",
            **env,
        )
        self.webs = [WebServer(self.env, kind=server) for _ in range(web)]
        self.workers = [celery_worker(self.env)]
        self.beats = [celery_beat(self.env) for _ in range(beats)]
        # Every process that ever ran, for the log check at the end.
        self.processes: list[ServiceProcess] = [*self.webs, *self.workers, *self.beats]

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Stack:
        for web in self.webs:
            web.start()
        for process in [*self.workers, *self.beats]:
            process.start()
        for worker in self.workers:
            worker.wait_for_output("ready", timeout=60)
        return self

    def add(self, process: ServiceProcess) -> ServiceProcess:
        self.processes.append(process)
        return process.start()

    def new_worker(self) -> ServiceProcess:
        worker = self.add(celery_worker(self.env))
        worker.wait_for_output("ready", timeout=60)
        self.workers.append(worker)
        return worker

    def new_beat(self) -> ServiceProcess:
        beat = self.add(celery_beat(self.env))
        self.beats.append(beat)
        return beat

    def tracebacks(self) -> list[str]:
        """Log lines of every process that show a traceback, or an error logged by the
        project's code. (Celery's own one-line reports of a broker out of reach are what
        an outage looks like, not a fault.)"""
        ours = (" contests.", " leaderboard.", " realtime.", " core.", " accounts.", " web.")
        found = []
        for process in self.processes:
            lines = process.output().splitlines()
            for i, line in enumerate(lines):
                error = (" ERROR " in line or " CRITICAL " in line) and any(
                    name in line for name in ours
                )
                if error:
                    found.append(f"{process.name}: {line}")
                elif "Traceback" in line:
                    # The line before says who logged it; the last lines, what it was.
                    context = [lines[max(0, i - 1)], *lines[i + 1 : i + 40]]
                    end = next(
                        (j for j, text in enumerate(context[1:], 1) if not text.startswith(" ")),
                        len(context) - 1,
                    )
                    found.append(f"{process.name}: " + "\n  ".join(context[: end + 1]))
        return found

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        if self.proxy is not None:
            self.proxy.close()
        self.redis.close()


@contextlib.contextmanager
def running_stack(**kwargs: Any) -> Iterator[Stack]:
    stack = Stack(**kwargs).start()
    try:
        yield stack
    finally:
        stack.stop()


# --- Bots --------------------------------------------------------------------------------

_request_ids = itertools.count()


@dataclass
class Bot:
    """One player, played like the web client (docs/PROTOCOL.md, "Staying in sync"): it
    answers every question it sees, reconnects with backoff after a drop or a close and
    sends `resync`, and sends again an answer whose reply it did not get."""

    name: str
    token: str
    urls: list[str]
    contest_id: str
    answers: dict[str, Any]  # question id -> the answer this bot gives
    epoch: str | None = None
    last_seq: int = 0
    seen: list[tuple[str, int, str]] = field(default_factory=list)  # (epoch, seq, event)
    opened: set[str] = field(default_factory=set)
    closed: set[str] = field(default_factory=set)
    acked: dict[str, str] = field(default_factory=dict)  # question id -> submission id
    duplicates: set[str] = field(default_factory=set)
    refusals: Counter[str] = field(default_factory=Counter)
    unanswered: set[str] = field(default_factory=set)  # open questions it has to answer
    close_codes: list[int] = field(default_factory=list)
    ended: bool = False
    ended_at: float = 0.0  # time.monotonic() when it learnt the contest ended
    offset_seconds: float = 0.0  # server clock minus this machine's
    late_refusals: list[tuple[str, float]] = field(default_factory=list)
    deadlines: dict[str, float] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)  # this machine's time
    # Seconds between a question's broadcast and the answer: (low, high), drawn per question.
    think: tuple[float, float] = (0.1, 1.5)
    _later: set[asyncio.Task[None]] = field(default_factory=set)

    async def play(self, until_ended: float) -> None:
        """Play until contest_end (or the deadline), reconnecting whenever the socket
        goes."""
        stop_at = time.monotonic() + until_ended
        backoff = 0.2
        attempt = 0
        while not self.ended and time.monotonic() < stop_at:
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            try:
                async with connect(
                    f"{url}?token={self.token}", open_timeout=10, compression=None
                ) as ws:
                    backoff = 0.2
                    await self._session(ws, stop_at)
                    if ws.close_code is not None:
                        self.close_codes.append(ws.close_code)
            except ConnectionClosed as closed:
                if closed.rcvd is not None:
                    self.close_codes.append(closed.rcvd.code)
            except (OSError, InvalidStatus, TimeoutError):
                pass
            if not self.ended:
                await asyncio.sleep(backoff * (1 + random.random()))
                backoff = min(backoff * 2, 2.0)

    async def _session(self, ws: ClientConnection, stop_at: float) -> None:
        await self._send(ws, "resync", self._resync_data())
        while not self.ended:
            left = stop_at - time.monotonic()
            if left <= 0:
                return
            text = await asyncio.wait_for(ws.recv(), left)
            await self._on(ws, json.loads(text))

    def _resync_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"contestId": self.contest_id}
        if self.epoch is not None:
            data.update(epoch=self.epoch, lastSeq=self.last_seq)
        return data

    async def _send(
        self, ws: ClientConnection, event: str, data: dict[str, Any], about: str = ""
    ) -> None:
        request_id = f"{event}:{about}:{next(_request_ids)}"
        await ws.send(json.dumps({"event": event, "data": data, "requestId": request_id}))

    async def _on(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        event, data = message["event"], message["data"]
        if "serverTime" in data:
            server = datetime.fromisoformat(data["serverTime"].replace("Z", "+00:00"))
            self.offset_seconds = server.timestamp() - time.time()
        if event == "contest_state":
            self.epoch, self.last_seq = data["epoch"], data["seq"]
            self._apply_state(data)
            await self._answer_open(ws)
        elif event == "resync_complete":
            self.epoch, self.last_seq = data["epoch"], data["seq"]
            await self._answer_open(ws)
        elif event == "resync_required":
            await self._send(ws, "resync", self._resync_data())
        elif "seq" in message:
            if message["epoch"] == self.epoch and message["seq"] <= self.last_seq:
                return  # already applied
            if message["epoch"] != self.epoch or message["seq"] != self.last_seq + 1:
                await self._send(ws, "resync", self._resync_data())
                return
            self.last_seq = message["seq"]
            self.seen.append((message["epoch"], message["seq"], event))
            await self._room_event(ws, event, data)
        elif event == "submission_result":
            self.acked[data["questionId"]] = data["submissionId"]
            self.unanswered.discard(data["questionId"])
        elif event == "error":
            await self._error(ws, data, message.get("requestId", ""))

    def _apply_state(self, state: dict[str, Any]) -> None:
        current = state.get("currentQuestion")
        if current is not None:
            self.opened.add(current["questionId"])
            self.deadlines[current["questionId"]] = _epoch_seconds(current["deadline"])
        change = state.get("lastQuestionChange")
        if change is not None:
            self.closed.add(change["closedQuestionId"])
        mine = state.get("yourSubmission")
        if mine is not None:
            self.acked[mine["questionId"]] = mine["submissionId"]
            self.unanswered.discard(mine["questionId"])
        if state["status"] in ("completed", "cancelled"):
            self._end()

    async def _room_event(self, ws: ClientConnection, event: str, data: dict[str, Any]) -> None:
        if event == "question_broadcast":
            self.opened.add(data["questionId"])
            self.deadlines[data["questionId"]] = _epoch_seconds(data["deadline"])
            self.unanswered.add(data["questionId"])
            task = asyncio.create_task(self._answer_later(ws, random.uniform(*self.think)))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
        elif event == "question_change":
            self.closed.add(data["closedQuestionId"])
            self.unanswered.discard(data["closedQuestionId"])
        elif event == "contest_end":
            self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended, self.ended_at = True, time.monotonic()

    async def _answer_later(self, ws: ClientConnection, delay: float) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionClosed):
            await self._answer_open(ws)

    async def _answer_open(self, ws: ClientConnection) -> None:
        for question_id in sorted(self.unanswered - set(self.acked) - self.closed):
            self.sent_at[question_id] = time.time()
            data = {
                "contestId": self.contest_id,
                "questionId": question_id,
                "answer": self.answers[question_id],
            }
            await self._send(ws, "submit_answer", data, about=question_id)

    async def _error(self, ws: ClientConnection, data: dict[str, Any], request_id: str) -> None:
        self.refusals[data["code"]] += 1
        event, _, rest = request_id.partition(":")
        question_id = rest.rpartition(":")[0]
        if event != "submit_answer":
            return
        if data["code"] == "DUPLICATE_SUBMISSION":
            # Stored by an earlier send whose reply was lost with its socket.
            self.duplicates.add(question_id)
            self.unanswered.discard(question_id)
        elif data["code"] == "QUESTION_CLOSED":
            self.unanswered.discard(question_id)
            deadline = self.deadlines.get(question_id)
            if deadline is not None:
                # How long before the deadline (on the server's clock) it was sent.
                sent = self.sent_at[question_id] + self.offset_seconds
                self.late_refusals.append((question_id, deadline - sent))
        elif data["code"] in ("SERVICE_UNAVAILABLE", "INTERNAL_ERROR", "RATE_LIMITED"):
            # Nothing was stored: send it again a little later, as the web client does.
            await asyncio.sleep(0.3)
            await self._answer_open(ws)


def _epoch_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def play_all(bots: list[Bot], *, until_ended: float) -> None:
    await asyncio.gather(*(bot.play(until_ended) for bot in bots))


# --- Invariants --------------------------------------------------------------------------


def check_invariants(
    contest: Contest, bots: list[Bot], stack: Stack, *, played_through: bool = True
) -> dict[str, Any]:
    """What every scenario must end with; returns the figures it measured. A contest the
    organizer ended early (`played_through` false) asked only some of its questions."""
    contest.refresh_from_db()
    assert contest.status == Contest.Status.COMPLETED, contest.status
    questions = [str(q.pk) for q in contest.ordered_questions()]

    # Acknowledged answers are exactly the stored rows of those bots, none duplicated.
    stored = {
        (str(user_id), str(question_id)): str(pk)
        for pk, user_id, question_id in Submission.objects.filter(
            question__contest=contest
        ).values_list("pk", "participant__user_id", "question_id")
    }
    rows = Submission.objects.filter(question__contest=contest).count()
    assert rows == len(stored), "an answer is stored twice"
    user_of = {bot.name: str(uid) for bot, uid in _user_ids(contest, bots)}
    for bot in bots:
        for question_id, submission_id in bot.acked.items():
            assert stored.get((user_of[bot.name], question_id)) == submission_id, (
                f"{bot.name}'s acknowledged answer to {question_id} is not the stored one"
            )
        for question_id in bot.duplicates:
            assert (user_of[bot.name], question_id) in stored
    # Every stored answer of a bot was acknowledged to it (its reply, or a duplicate's
    # refusal when it sent it again).
    acknowledged = {(user_of[bot.name], q) for bot in bots for q in [*bot.acked, *bot.duplicates]}
    bots_users = set(user_of.values())
    unacknowledged = {key for key in stored if key[0] in bots_users} - acknowledged
    assert not unacknowledged, f"{len(unacknowledged)} stored answers were never acknowledged"

    # Every question opened and closed exactly once.
    emitted = Counter(
        (event, json.loads(data).get("questionId") or json.loads(data).get("closedQuestionId"))
        for event, data in OutboxEvent.objects.filter(contest_id=contest.pk).values_list(
            "event", "data"
        )
    )
    asked = [q for q in questions if emitted[("question_broadcast", q)]]
    if played_through:
        assert asked == questions, emitted
    for question_id in asked:
        assert emitted[("question_broadcast", question_id)] == 1, emitted
        assert emitted[("question_change", question_id)] == 1, emitted
    assert sum(1 for e, _ in emitted.elements() if e == "contest_end") == 1
    # Each event is published, then marked published: a bot can hold the last one before
    # its mark is written, so the marks get a moment to land.
    deadline = time.monotonic() + TIMEOUT
    while OutboxEvent.objects.filter(contest_id=contest.pk, published_at=None).exists():
        assert time.monotonic() < deadline, "an outbox event was never published"
        time.sleep(0.05)

    # Every bot saw the whole contest, and no room event twice.
    for bot in bots:
        assert bot.ended, f"{bot.name} never saw the contest end"
        assert bot.closed >= set(asked), (
            f"{bot.name} saw {len(bot.closed)} of {len(asked)} questions close"
        )
        positions = [(epoch, seq) for epoch, seq, _ in bot.seen]
        assert len(positions) == len(set(positions)), f"{bot.name} got a room event twice"

    # The final standings are the ranking computed from the database.
    final = list(
        FinalStanding.objects.filter(contest=contest)
        .order_by("rank")
        .values_list("participant_id", "rank", "score")
    )
    expected = [
        (s.totals.participant_id, s.rank, s.totals.score)
        for s in standings_from_database(contest_id=contest.pk)
    ]
    assert [(str(p), r, s) for p, r, s in final] == expected

    errors = stack.tracebacks()
    assert errors == [], "\n".join(errors[:20])
    return {
        "answers_stored": rows,
        "acknowledged": sum(len(b.acked) for b in bots),
        "duplicated": rows - len(stored),
        "close_codes": Counter(code for b in bots for code in b.close_codes),
        "refusals": sum((b.refusals for b in bots), Counter()),
    }


def _user_ids(contest: Contest, bots: list[Bot]) -> list[tuple[Bot, Any]]:
    by_name = dict(
        Participant.objects.filter(contest=contest).values_list("user__username", "user_id")
    )
    return [(bot, by_name[bot.name]) for bot in bots if bot.name in by_name]


def sigterm(process: ServiceProcess) -> None:
    assert process.proc is not None
    process.proc.send_signal(signal.SIGTERM)
