"""Prometheus metrics: every family the processes export (docs/OPERATIONS.md says what each
means), and the small calls the code makes to move them.

Names are part of the interface: dashboards (docs/grafana-dashboard.json) and alerts use
them. Label values are bounded: event names and error codes of the protocol, close codes
from a fixed list, transition kinds, contest ids (a few per day).

Several processes (daphne web processes, the Celery worker) share one view of their
figures through prometheus-client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set
(before prometheus-client is imported; settings read it from the environment), each
process writes its values to files in that folder and `GET /metrics` on any web process
adds them up. The folder is wiped when a process starts and finds no live process that
wrote to it (a new start of the whole stack), under a file lock, so figures of a previous
run never leak into this one; the files of a process that died while others run stay
(their counters keep counting in the totals) except its gauges, which are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import transaction
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

P = ParamSpec("P")
R = TypeVar("R")

# prometheus-client chose its value store from the same variable when it was imported.
_MULTIPROC_DIR: str | None = settings.PROMETHEUS_MULTIPROC_DIR or None
_PID_IN_FILE_NAME = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def _claimed(path: str | None) -> Iterator[None]:
    """Hold the folder's lock while this process tidies it and creates its first files
    (below: the unlabelled families write theirs when defined), so a process starting at
    the same moment sees this one as a live writer."""
    if path is None:
        yield
        return
    os.makedirs(path, exist_ok=True)
    fd = os.open(os.path.join(path, ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        files = glob.glob(os.path.join(path, "*.db"))
        pids = {int(m[1]) for f in files if (m := _PID_IN_FILE_NAME.search(f))}
        pids.discard(os.getpid())
        alive = {pid for pid in pids if _alive(pid)}
        if not alive:
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(name)
        else:
            for pid in pids - alive:
                multiprocess.mark_process_dead(pid, path)
        yield
    finally:
        os.close(fd)  # also releases the lock


# Latency buckets (seconds) for work a player waits for: from a millisecond to 10 s.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

with _claimed(_MULTIPROC_DIR):
    WS_CONNECTIONS = Gauge(
        "contest_ws_connections",
        "Open WebSocket connections.",
        multiprocess_mode="livesum",
    )
    WS_JOINED = Gauge(
        "contest_ws_joined",
        "Sockets joined to a contest's room.",
        ["contest"],
        multiprocess_mode="livesum",
    )
    WS_EVENTS_RECEIVED = Counter(
        "contest_ws_events_received",
        "Client messages received, by event (invalid: unreadable; dropped: over a limit).",
        ["event"],
    )
    WS_EVENTS_SENT = Counter(
        "contest_ws_events_sent", "Server messages written to sockets, by event.", ["event"]
    )
    WS_ERRORS = Counter("contest_ws_errors", "`error` replies sent, by code.", ["code"])
    WS_CLOSES = Counter(
        "contest_ws_closes", "Closed WebSocket connections, by close code.", ["code"]
    )
    SUBMISSION_SECONDS = Histogram(
        "contest_submission_seconds",
        "From receiving submit_answer to writing its submission_result.",
        buckets=_LATENCY_BUCKETS,
    )
    BROADCAST_SECONDS = Histogram(
        "contest_broadcast_seconds",
        "From publishing a room event to writing it to the last local socket of its room.",
        buckets=_LATENCY_BUCKETS,
    )
    CHANNEL_LAYER_FAILURES = Counter(
        "contest_channel_layer_failures",
        "Failed channel-layer or event-log operations (publish, receive, group membership).",
    )
    TRANSITIONS = Counter(
        "contest_transitions", "Committed contest-clock transitions, by kind.", ["kind"]
    )
    TICK_SECONDS = Histogram(
        "contest_tick_seconds",
        "Duration of one contest clock tick.",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    )


# --- What the code calls -------------------------------------------------------------------

# Close codes of docs/PROTOCOL.md and the usual network ones; a client may send any code
# from 1000 to 4999, which would make one series each.
_KNOWN_CLOSE_CODES = frozenset({1000, 1001, 1005, 1006, 1008, 1009, 1011, 1012, 4001, 4002, 4003})
_EVENT_PREFIX = '{"event":"'
# contest_ws_events_received_total's event for a message that could not be read, and for
# one refused by a limit (size, rate) before it was read.
INVALID = "invalid"
DROPPED = "dropped"


def ws_opened() -> None:
    WS_CONNECTIONS.inc()


def ws_gone() -> None:
    WS_CONNECTIONS.dec()


def ws_closed(code: int | None) -> None:
    WS_CLOSES.labels(str(code) if code in _KNOWN_CLOSE_CODES else "other").inc()


def ws_received(event: str) -> None:
    WS_EVENTS_RECEIVED.labels(event).inc()


def ws_error(code: str) -> None:
    WS_ERRORS.labels(code).inc()


def ws_joined(contest_id: str, sockets: int) -> None:
    """This process's number of sockets in the contest's room."""
    WS_JOINED.labels(contest_id).set(sockets)


def channel_layer_failed() -> None:
    CHANNEL_LAYER_FAILURES.inc()


def event_of(text: str) -> str | None:
    """The event name of a server envelope's text (every one starts with it)."""
    if not text.startswith(_EVENT_PREFIX):
        return None
    return text[len(_EVENT_PREFIX) : text.find('"', len(_EVENT_PREFIX))]


def ws_sent(event: str | None, count: int = 1) -> None:
    """`count` texts of this event written to sockets. The hub counts a room event once
    per process, not once per socket: an increment costs about 2.5 µs in multiprocess
    mode (bench/metrics_cost.py), several per cent of a delivered message."""
    if event is not None and count:
        WS_EVENTS_SENT.labels(event).inc(count)


def counting_send(
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A socket's ASGI `send` that counts each text it writes by its event name."""

    async def counted(message: dict[str, Any]) -> None:
        await send(message)
        text = message.get("text")
        if text is not None:
            ws_sent(event_of(text))

    return counted


def publish_stamp() -> float:
    """The wall-clock instant a room event is published (read back by the hubs, in other
    processes, hence not a monotonic clock)."""
    return time.time()


def broadcast_delivered(published_at: float | None) -> None:
    if published_at is not None:
        BROADCAST_SECONDS.observe(max(0.0, time.time() - published_at))


def timed_submission(
    handler: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[R]]:
    """Times an async submit_answer handler that returns once its result is written; a
    refused answer (an exception) is counted by its error code instead."""

    @functools.wraps(handler)
    async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        result = await handler(*args, **kwargs)
        SUBMISSION_SECONDS.observe(time.perf_counter() - started)
        return result

    return timed


def transition(kind: str) -> None:
    """Count a contest-clock transition once its transaction commits."""
    transaction.on_commit(lambda: TRANSITIONS.labels(kind).inc(), robust=True)


def timed_tick(task: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(task)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        with TICK_SECONDS.time():
            return task(*args, **kwargs)

    return timed


# --- Exposition ----------------------------------------------------------------------------


def exposition() -> tuple[bytes, str]:
    """The text format of every family: this process's, or with PROMETHEUS_MULTIPROC_DIR
    the sum over all processes that share the folder."""
    if _MULTIPROC_DIR is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=_MULTIPROC_DIR)
    return generate_latest(registry), CONTENT_TYPE_LATEST
