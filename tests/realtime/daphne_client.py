"""A small JSON client over the `websockets` library, for tests against a real daphne."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.servers import WebServer

TIMEOUT = 15
_request_ids = itertools.count()


class Socket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, event: str, data: Any = None, **extra: Any) -> None:
        body: dict[str, Any] = {"event": event, **extra}
        if data is not None:
            body["data"] = data
        await self.ws.send(json.dumps(body))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def receive_event(self, event: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Skip ephemeral timer updates; the next other message must be `event`."""
        while True:
            message = await self.receive(timeout)
            if message["event"] != "timer_update":
                assert message["event"] == event, message
                return message

    async def request(self, event: str, data: Any = None) -> dict[str, Any]:
        request_id = f"r{next(_request_ids)}"
        await self.send(event, data, requestId=request_id)
        while True:
            message = await self.receive()
            if message.get("requestId") == request_id:
                return message

    async def close_frame(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Read until the server closes; the close code and reason it sent."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server sent no close frame"
            return closed.rcvd.code, closed.rcvd.reason

    async def close_frame_after(
        self, received: list[dict[str, Any]], timeout: float = TIMEOUT
    ) -> tuple[int, str]:
        """Like close_frame, keeping every message that came before the close."""
        try:
            while True:
                received.append(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server sent no close frame"
            return closed.rcvd.code, closed.rcvd.reason

    async def close(self) -> None:
        await self.ws.close()


async def open_socket(server: WebServer, token: str | None, *, origin: str | None = None) -> Socket:
    url = server.ws_url if token is None else f"{server.ws_url}?token={token}"
    ws = await connect(url, origin=origin, open_timeout=TIMEOUT, compression=None)
    return Socket(ws)
