"""Fair play against the real thing: players on real WebSockets (the `websockets` client)
served by web processes (uvicorn), against the tests' PostgreSQL and Redis. The test process
plays the organizer and the clock by calling the services (whose broadcasts go through
Redis to the servers, as a Celery worker's would), so no test waits for a deadline.

A Player keeps every frame its socket received, with the state of the question at that
moment, so a test can ask what a player could see while a question was open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from accounts.models import User
from contests.models import Contest, Question
from tests.conftest import access_token_for
from tests.servers import WebServer, child_env

TIMEOUT = 15


class Player:
    """One user's socket, joined to one contest. Every frame that arrives is kept in
    `frames`; `request` waits for the reply to its own message."""

    def __init__(self, user: User, ws: ClientConnection) -> None:
        self.user = user
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._seen = 0
        self._arrived = asyncio.Condition()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._counter = 0
        self.closed: tuple[int, str] | None = None

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                async with self._arrived:
                    self.frames.append(json.loads(text))
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            async with self._arrived:
                self.closed = (self.ws.close_code or 1006, self.ws.close_reason or "")
                self._arrived.notify_all()

    async def wait_for(
        self, test: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first frame from the last one taken on that passes `test` (frames before it
        are kept in `frames` but skipped)."""

        async def find() -> dict[str, Any]:
            async with self._arrived:
                while True:
                    for i in range(self._seen, len(self.frames)):
                        if test(self.frames[i]):
                            self._seen = i + 1
                            return self.frames[i]
                    if self.closed is not None:
                        raise AssertionError(f"socket closed {self.closed}: {self.frames}")
                    await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    async def event(self, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        return await self.wait_for(lambda f: f["event"] == name, timeout)

    async def request(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self._counter += 1
        request_id = f"{self.user.username}-{self._counter}"
        await self.ws.send(json.dumps({"event": event, "data": data, "requestId": request_id}))
        return await self.wait_for(lambda f: f.get("requestId") == request_id)

    async def join(self, contest: Contest) -> dict[str, Any]:
        reply = await self.request("join_contest", {"contestId": str(contest.pk)})
        assert reply["event"] == "contest_state", reply
        return reply["data"]

    async def answer(self, contest: Contest, question: Question, text: str) -> dict[str, Any]:
        """Pick the choice with this text (`question` from `played`: choices loaded)."""
        choice = next(str(c.pk) for c in question.choices.all() if c.text == text)
        data = {"contestId": str(contest.pk), "questionId": str(question.pk), "answer": choice}
        return await self.request("submit_answer", data)

    async def close_frame(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        async def closed() -> tuple[int, str]:
            async with self._arrived:
                while self.closed is None:
                    await self._arrived.wait()
                return self.closed

        return await asyncio.wait_for(closed(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def room_events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if "seq" in f and name in (None, f["event"])]


def played(contest: Contest) -> list[Question]:
    """The contest's questions in play order with their choices loaded, for Player.answer
    (no query from the scenario's event loop)."""
    return list(contest.questions.order_by("order", "id").prefetch_related("choices"))


@contextlib.asynccontextmanager
async def player_on(server: WebServer, user: User) -> AsyncIterator[Player]:
    ws = await connect(
        f"{server.ws_url}?token={access_token_for(user)}", open_timeout=TIMEOUT, compression=None
    )
    player = Player(user, ws)
    try:
        yield player
    finally:
        await player.close()


def db(func: Callable[..., Any]) -> Callable[..., Any]:
    """Call a service (sync, with its own database connection) from the scenario's loop."""
    from django.db import connection

    async def call(*args: Any, **kwargs: Any) -> Any:
        def work() -> Any:
            try:
                return func(*args, **kwargs)
            finally:
                connection.close()

        return await asyncio.to_thread(work)

    return call


@pytest.fixture
def two_servers(transactional_db) -> Iterator[tuple[WebServer, WebServer]]:
    """Two web processes serving the same contests, as behind a load balancer."""
    servers = [WebServer(child_env()).start() for _ in range(2)]
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def beat_flush() -> None:
    """One beat's leaderboard flush, an interval after the last one (a flush sends at most
    one leaderboard_update per LEADERBOARD_INTERVAL_SECONDS and contest)."""
    from leaderboard.services import leaderboard_flush
    from tests.leaderboard.conftest import an_interval_passes

    an_interval_passes()
    leaderboard_flush()
