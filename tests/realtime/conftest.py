"""Helpers for the WebSocket tests.

Consumer tests drive the real ASGI application (contestsite.asgi.application) with
Channels' WebsocketCommunicator on a fresh event loop per test (`run`). The consumer does
its database work on other threads, which see only committed data: the tests use
`transaction=True`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from accounts.models import User
from contestsite.asgi import application
from realtime.outbound import broadcast, hub
from tests.conftest import access_token_for

TIMEOUT = 10


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body on its own event loop (its own hub, layer and Redis clients)."""

    async def call() -> Any:
        return await scenario()

    return async_to_sync(call)()


def communicator(
    *, token: str | None = None, origin: str | None = None, path: str = "/ws/contest"
) -> WebsocketCommunicator:
    query = f"?token={token}" if token is not None else ""
    headers = [(b"origin", origin.encode())] if origin else []
    return WebsocketCommunicator(application, f"{path}{query}", headers=headers)


class Client:
    """A connected socket with JSON helpers."""

    def __init__(self, ws: WebsocketCommunicator) -> None:
        self.ws = ws

    async def send(self, event: str, data: Any = None, **extra: Any) -> None:
        body: dict[str, Any] = {"event": event, **extra}
        if data is not None:
            body["data"] = data
        await self.ws.send_to(text_data=json.dumps(body))

    async def send_raw(self, text: str) -> None:
        await self.ws.send_input({"type": "websocket.receive", "text": text})

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        return json.loads(await self.ws.receive_from(timeout))

    async def receive_event(self, event: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next message, which must be `event`."""
        message = await self.receive(timeout)
        assert message["event"] == event, message
        return message

    async def request(self, event: str, data: Any = None, **extra: Any) -> dict[str, Any]:
        """Send and return the direct reply (the first message echoing the requestId)."""
        request_id = f"{event}-{id(data)}-{asyncio.get_running_loop().time()}"
        await self.send(event, data, requestId=request_id, **extra)
        while True:
            message = await self.receive()
            if message.get("requestId") == request_id:
                return message

    async def join(self, contest_id: object) -> dict[str, Any]:
        reply = await self.request("join_contest", {"contestId": str(contest_id)})
        assert reply["event"] == "contest_state", reply
        return reply["data"]

    async def closed(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The close message the server sends next (after any events before it)."""
        while True:
            output = await self.ws.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output


async def nothing_more(contest_id: object, *clients: Client) -> None:
    """Nothing else is on its way to these sockets of the contest's room: a room event
    published now is the next message each one receives (a waiting window could miss a
    late duplicate)."""
    sentinel = await broadcast.asend_to_contest(contest_id, "question_change", {"sentinel": 1})
    for client in clients:
        message = await client.receive()
        assert (message["data"], message["seq"]) == ({"sentinel": 1}, sentinel.seq), message


def member_holding_events(contest_id: object) -> hub.Member:
    """Wait (from a thread, such as a patched selector's) until a socket of the contest's
    room holds a room event back while its reply is built; return that socket."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        for running in list(hub._hubs.values()):
            for member in list(running.rooms.get(str(contest_id), ())):
                if member.held:
                    return member
        assert time.monotonic() < deadline, "the hub never received the event"
        time.sleep(0.01)


@contextlib.asynccontextmanager
async def connected(user: User, **kwargs: Any) -> AsyncIterator[Client]:
    ws = communicator(token=access_token_for(user), **kwargs)
    accepted, _ = await ws.connect(timeout=TIMEOUT)
    assert accepted
    try:
        yield Client(ws)
    finally:
        await ws.disconnect(timeout=TIMEOUT)
