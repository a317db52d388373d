"""What the Prometheus instrumentation costs on the hot paths, in the multiprocess mode a
production server runs (every sample written to an mmap'd file).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchdb \\
    SECRET_KEY=bench-secret-key-bench-secret-key-123 .venv/bin/python bench/metrics_cost.py

Prints the CPU time of one call of each instrumentation point the WebSocket paths take:
per delivered message (every text a socket writes is counted by its event name), per
room event received by a hub, per message received.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from typing import Any


def _per_send_seconds(calls: int) -> tuple[float, float]:
    """Seconds per awaited send, bare and wrapped by metrics.counting_send."""
    from core import metrics

    async def bare(message: dict[str, Any]) -> None:
        return None

    counted = metrics.counting_send(bare)
    message = {"type": "websocket.send", "text": '{"event":"question_change","data":{}}'}

    async def loop(send: Callable[[dict[str, Any]], Any]) -> float:
        started = time.process_time()
        for _ in range(calls):
            await send(message)
        return (time.process_time() - started) / calls

    return (
        min(asyncio.run(loop(bare)) for _ in range(3)),
        min(asyncio.run(loop(counted)) for _ in range(3)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import django

        django.setup()
        from core import metrics

        points: list[tuple[str, Callable[[], object]]] = [
            ("nothing (the loop's own cost)", lambda: None),
            (
                "one counter increment",
                lambda: metrics.WS_EVENTS_SENT.labels("question_change").inc(),
            ),
            (
                "broadcast_delivered: one histogram observation per room event",
                lambda: metrics.broadcast_delivered(time.time()),
            ),
            (
                "ws_received: one counter per message received",
                lambda: metrics.ws_received("submit_answer"),
            ),
        ]
        print(f"{'instrumentation point':<66} µs per call")
        for name, call in points:
            seconds = min(timeit.repeat(call, number=args.calls, repeat=3))
            print(f"{name:<66} {seconds / args.calls * 1e6:8.2f}")
        bare, counted = _per_send_seconds(args.calls)
        name = "counting_send: per delivered message, over a bare send"
        print(f"{name:<66} {(counted - bare) * 1e6:8.2f}")


if __name__ == "__main__":
    main()
