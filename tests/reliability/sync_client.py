"""Sockets that outlive a test step: a client of the contest WebSocket that follows
docs/PROTOCOL.md's "Staying in sync" algorithm, on an event loop thread of its own.

A sync test (a hypothesis state machine) hands each action to the loop
(`SocketLoop.call`) and gets its result; between actions the sockets stay open and keep
reading. Each `Client` is one device of a player: its protocol state (epoch, lastSeq,
resyncPending) and what it shows (`View`) survive its reconnections, as in a browser tab.
What the server must never do to a socket (a room event twice, a seq that does not follow
the last one of its epoch, an event before the socket's first state, a refused automatic
resync, a close the client did not ask for) is written to `violations`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 15.0

# (epoch, seq) of a room event.
Position = tuple[str, int]


class SocketLoop:
    """An event loop on a thread of its own that owns every socket of a test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sockets", daemon=True)

    def start(self) -> SocketLoop:
        self.thread.start()
        return self

    def call(self, coroutine: Coroutine[Any, Any, Any], timeout: float = TIMEOUT + 5) -> Any:
        """Run `coroutine` on the loop and return its result (or raise its exception)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(f"the socket loop did not finish within {timeout} s") from None

    def stop(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class View:
    """What a client shows, built only from what the server sent it."""

    status: str | None = None
    phase: str | None = None
    index: int = 0
    opened: set[str] = field(default_factory=set)
    closed: set[str] = field(default_factory=set)
    # From the last contest_state: the answer the server says this player gave to the
    # question at its questionIndex.
    your_submission: dict[str, Any] | None = None
    # closed question id -> the player's own result that came with its question_change
    # (or with a state's lastQuestionChange).
    results: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> tuple[str | None, str | None, int, frozenset[str], frozenset[str]]:
        return self.status, self.phase, self.index, frozenset(self.opened), frozenset(self.closed)


_ids = itertools.count()


class Client:
    """One device of a player: a socket at a time, and PROTOCOL.md's client state."""

    def __init__(
        self, *, name: str, url: str, token: str, contest_id: str, question_ids: list[str]
    ) -> None:
        self.name = name
        self.url = f"{url}?token={token}"
        self.contest_id = contest_id
        self.question_ids = question_ids
        # PROTOCOL.md's client state, kept across reconnections.
        self.epoch: str | None = None
        self.last_seq = 0
        self.resync_pending = False
        self.view = View()
        self.violations: list[str] = []
        # Why it resynced by itself: "resync_required" or "gap" (another epoch, or a seq
        # that skips ahead).
        self.resyncs: Counter[str] = Counter()
        self.messages: list[dict[str, Any]] = []  # every message received, for diagnostics
        # The current socket and what is checked per socket.
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.closing = False
        self.delivered: set[Position] = set()
        self.cursor: Position | None = None  # the socket's last position (state or event)
        self.past_epochs: set[str] = set()
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.progress = asyncio.Event()

    def __repr__(self) -> str:
        return self.name

    # --- Driving it (coroutines for SocketLoop.call) -----------------------------------

    async def open(self) -> None:
        """A new socket; it continues from the client's position (PROTOCOL.md: on
        reconnect), or from nothing for a client that never joined."""
        self.ws = await connect(self.url, open_timeout=TIMEOUT, compression=None)
        self.closing = False
        self.delivered = set()
        self.cursor = None if self.epoch is None else (self.epoch, self.last_seq)
        self.past_epochs = set()
        self.reader = asyncio.get_running_loop().create_task(self._read(self.ws))

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.wait_for(self.reader, TIMEOUT)
        self.ws = self.reader = None

    async def open_and_resync(self) -> dict[str, Any]:
        """PROTOCOL.md's "on reconnect": a new socket, then resync from the position."""
        await self.open()
        return await self.request("resync", self.resync_data())

    async def request(self, event: str, data: Any) -> dict[str, Any]:
        """Send, and return the direct reply (the message echoing the requestId); the
        messages before it (a replay) are applied by then."""
        return await self.reply_to(await self.send(event, data))

    async def reply_to(self, request_id: str) -> dict[str, Any]:
        future = self.waiting.get(request_id)
        if future is None:
            raise AssertionError(f"{self.name}: the socket closed before the reply")
        try:
            reply = await asyncio.wait_for(future, TIMEOUT)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no reply to {request_id} in {TIMEOUT} s; "
                f"last messages: {self.messages[-5:]}"
            ) from None
        finally:
            self.waiting.pop(request_id, None)
        return reply

    async def send(self, event: str, data: Any) -> str:
        """Send without waiting for the reply; returns the requestId."""
        assert self.ws is not None, f"{self.name} has no socket"
        request_id = f"{self.name}-{next(_ids)}"
        self.waiting[request_id] = asyncio.get_running_loop().create_future()
        if event == "resync":
            self.resync_pending = True
        body = {"event": event, "data": data, "requestId": request_id}
        await self.ws.send(json.dumps(body))
        return request_id

    def resync_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"contestId": self.contest_id}
        if self.epoch is not None:
            data.update(epoch=self.epoch, lastSeq=self.last_seq)
        return data

    def at(self, position: Position) -> bool:
        """In sync: at the event log's position, with no resync pending."""
        return (
            self.ws is not None
            and not self.resync_pending
            and (self.epoch, self.last_seq) == position
        )

    async def reach(self, position: Position, deadline: float) -> None:
        """Wait (reading on) until the client is at `position`; fail at `deadline`
        (time.monotonic())."""
        while not self.at(position):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.name} never reached the event log's position {position}: it is at "
                    f"{(self.epoch, self.last_seq)}, resync pending: {self.resync_pending}; "
                    f"last messages: {self.messages[-5:]}"
                )
            self.progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.progress.wait(), left)

    # --- Reading: PROTOCOL.md's algorithm ----------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for text in ws:
                message = json.loads(text)
                self.messages.append(message)
                await self._on(message)
                self.progress.set()
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.violations.append(
                    f"{self.name}: the server closed the socket ({ws.close_code} {ws.close_reason})"
                )
            closed = ConnectionError(f"{self.name}: the socket closed before the reply")
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(closed)
                    future.exception()  # retrieved: an answer in flight may have no reader
            self.waiting.clear()
            self.progress.set()

    async def _on(self, message: dict[str, Any]) -> None:
        event, data = message["event"], message.get("data") or {}
        if "seq" in message:
            await self._room_event(message)
        elif event == "contest_state":
            self._moved_to((data["epoch"], data["seq"]))
            self.epoch, self.last_seq, self.resync_pending = data["epoch"], data["seq"], False
            self._show_state(data)
        elif event == "resync_complete":
            self._moved_to((data["epoch"], data["seq"]))
            self.epoch, self.last_seq, self.resync_pending = data["epoch"], data["seq"], False
        elif event == "resync_required" and not self.resync_pending:
            await self._resync("resync_required")
        request_id = message.get("requestId")
        future = self.waiting.get(request_id) if request_id is not None else None
        if future is not None:
            if not future.done():
                future.set_result(message)
        elif event == "error" and request_id is not None and request_id.startswith("auto-"):
            self.violations.append(f"{self.name}: its resync was refused: {message}")

    async def _resync(self, why: str) -> None:
        assert self.ws is not None
        self.resyncs[why] += 1
        self.resync_pending = True
        body = {"event": "resync", "data": self.resync_data(), "requestId": f"auto-{next(_ids)}"}
        await self.ws.send(json.dumps(body))

    def _moved_to(self, position: Position) -> None:
        if self.cursor is not None and self.cursor[0] != position[0]:
            self.past_epochs.add(self.cursor[0])
        self.cursor = position

    async def _room_event(self, message: dict[str, Any]) -> None:
        position: Position = (message["epoch"], message["seq"])
        epoch, seq = position
        where = f"{self.name}: {message['event']} at {position}"
        if position in self.delivered:
            self.violations.append(f"{where} reached this socket twice")
        self.delivered.add(position)
        if self.cursor is None:
            self.violations.append(f"{where} came before the socket's first state")
        elif epoch == self.cursor[0] and seq != self.cursor[1] + 1:
            self.violations.append(f"{where} followed seq {self.cursor[1]} of its epoch")
        elif epoch in self.past_epochs:
            self.violations.append(f"{where} belongs to an epoch the socket had left")
        if self.cursor is None or epoch != self.cursor[0] or seq > self.cursor[1]:
            self._moved_to(position)
        # PROTOCOL.md: apply in order; a gap (or another epoch) asks for a resync.
        if epoch == self.epoch and seq <= self.last_seq:
            return
        if epoch == self.epoch and seq == self.last_seq + 1:
            self._apply(message["event"], message["data"])
            self.last_seq = seq
        elif not self.resync_pending:
            await self._resync("gap")

    def _apply(self, event: str, data: dict[str, Any]) -> None:
        view = self.view
        if event == "contest_start":
            view.status, view.phase = "active", "intermission"
        elif event == "question_broadcast":
            view.index, view.phase = data["index"], "question"
            view.opened.add(data["questionId"])
        elif event == "question_change":
            view.phase = "intermission"
            view.closed.add(data["closedQuestionId"])
            view.results[data["closedQuestionId"]] = data.get("yourResult")
        elif event == "contest_end":
            view.status, view.phase = data["status"], "finished"

    def _show_state(self, state: dict[str, Any]) -> None:
        """contest_state replaces everything the client shows."""
        index, phase = state["questionIndex"], state["phase"]
        opened = self.question_ids[:index]
        closed = opened[:-1] if phase == "question" else opened
        change = state["lastQuestionChange"] or {}
        shown = change.get("closedQuestionId")
        if phase == "intermission" and index and shown != opened[-1]:
            self.violations.append(
                f"{self.name}: a state in the intermission after question {index} shows "
                f"lastQuestionChange of {shown}"
            )
        self.view = View(
            status=state["status"],
            phase=phase,
            index=index,
            opened=set(opened),
            closed=set(closed),
            your_submission=state["yourSubmission"],
            results=self.view.results,  # what it was told so far stays: a history
        )
        if shown is not None:
            self.view.results[shown] = change.get("yourResult")
