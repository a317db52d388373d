"""Join and reconnect storms: N sockets join one contest on one web process, C at a time.

    createdb -h 127.0.0.1 -U postgres benchdb
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchdb REDIS_URL=redis://127.0.0.1:6379/7 \\
    REDIS_KEY_PREFIX=bench SECRET_KEY=bench-secret-key-bench-secret-key-123 \\
    .venv/bin/python bench/ws_joins.py --sockets 10000 --concurrency 500 --clients 3

Creates N users (in bulk: one shared unusable password, tokens signed here) and an active
contest, starts the web server (uvicorn as the Procfile runs it, or --server daphne;
--web-processes uvicorn workers sharing the port; loopback: bench/ws_common.py) and
--clients load processes. One warm-up socket joins and leaves first, so that the server's
lazy start-up
(its first database and Redis connections) is not counted. Then:

1. Join storm: the N sockets open with at most --concurrency in flight at once (split
   over the load processes), each with its token in the URL; each sends join_contest
   and waits for its contest_state (every user registers on its join). A socket is in
   flight from the start of its connect to its contest_state. Prints the time from the
   first connect to the last contest_state, joins per second, handshakes refused (an
   HTTP status: daphne answers 403 to a handshake the application did not accept within
   its --websocket_connect_timeout, 5 s; uvicorn has no such timeout) or failed
   otherwise, p50/p99/max of a socket's connect -> contest_state, the server's RSS growth
   per socket (VmRSS after all joined minus before, divided by N) and its CPU seconds.
2. Reconnect storm (--reconnect, the default): every joined socket closes at once and
   reconnects (same cap), sending resync with the epoch and seq of its contest_state,
   and waits for its resync_complete (a contest_state reply is counted apart: it means the
   server could not replay). Prints the time from the first close to the last reply,
   p50/p99/max of a socket's connect -> reply, failures and the server's CPU seconds.

One summary line per phase, then one JSON line with the figures. The users and the
contest are deleted at the end. Everything runs on this machine: the load clients share
its cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

from ws_common import (
    ClientProcess,
    WebServer,
    add_server_arguments,
    django_setup,
    percentile,
    say,
    split,
)

OK_JOIN = "contest_state"
OK_RESYNC = ("resync_complete", "contest_state")


# --- Load client (no Django) ------------------------------------------------------------


async def attempt(
    url: str, token: str, message: dict[str, Any], replies: tuple[str, ...], timeout: float
) -> tuple[str, Any, dict[str, Any] | None]:
    """Open a socket, send `message`, wait for its direct reply.

    Returns (outcome, socket, reply data): the outcome is the reply's event when it is one
    of `replies` (the socket stays open), else what went wrong (the socket is closed)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    request_id = message["requestId"]
    ws = None
    try:
        async with asyncio.timeout(timeout):
            ws = await connect(
                f"{url}?token={token}",
                compression=None,
                ping_interval=None,
                open_timeout=None,
                close_timeout=10,
            )
            await ws.send(json.dumps(message))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("requestId") != request_id:
                    continue  # a room event: none is published during the storms
                if reply["event"] in replies:
                    return reply["event"], ws, reply["data"]
                outcome = (
                    f"error {reply['data'].get('code')}"
                    if reply["event"] == "error"
                    else f"unexpected {reply['event']}"
                )
                break
    except InvalidStatus as e:
        outcome = f"refused HTTP {e.response.status_code}"
    except TimeoutError:
        outcome = "timeout"
    except ConnectionClosed as e:
        outcome = f"closed {e.rcvd.code if e.rcvd else 1006}"
    except (OSError, InvalidHandshake) as e:
        outcome = f"failed {type(e).__name__}"
    if ws is not None:
        ws.transport.abort()
    return outcome, None, None


async def client_main(
    tokens: list[str],
    url: str,
    contest_id: str,
    concurrency: int,
    timeout: float,
    warmup: str,
) -> None:
    loop = asyncio.get_running_loop()

    async def command() -> str:
        return (await loop.run_in_executor(None, sys.stdin.readline)).strip()

    if warmup != "-":
        join = {"event": "join_contest", "data": {"contestId": contest_id}, "requestId": "w"}
        outcome, ws, _ = await attempt(url, warmup, join, (OK_JOIN,), timeout)
        if ws is None:
            raise SystemExit(f"warm-up join failed: {outcome}")
        await ws.close()
    say(sys.stdout, "READY")

    gate = asyncio.Semaphore(concurrency)
    sockets: list[Any] = [None] * len(tokens)
    positions: list[tuple[str, int] | None] = [None] * len(tokens)

    async def join(i: int, token: str) -> list[Any]:
        message = {"event": "join_contest", "data": {"contestId": contest_id}, "requestId": "j"}
        async with gate:
            started = time.monotonic()
            outcome, sockets[i], data = await attempt(url, token, message, (OK_JOIN,), timeout)
            ended = time.monotonic()
        if data is not None:
            positions[i] = (data["epoch"], data["seq"])
        return [started, ended, outcome]

    if await command() != "JOIN":
        return
    joins = await asyncio.gather(*(join(i, t) for i, t in enumerate(tokens)))
    say(sys.stdout, "RESULT", {"joins": joins})

    async def reconnect(i: int, token: str) -> list[Any] | None:
        old, position = sockets[i], positions[i]
        if old is None or position is None:
            return None  # never joined: nothing to reconnect
        await old.close()
        epoch, seq = position
        data = {"contestId": contest_id, "epoch": epoch, "lastSeq": seq}
        message = {"event": "resync", "data": data, "requestId": "r"}
        async with gate:
            started = time.monotonic()
            outcome, sockets[i], reply = await attempt(url, token, message, OK_RESYNC, timeout)
            ended = time.monotonic()
        replayed = reply.get("replayed", 0) if reply and outcome == "resync_complete" else 0
        return [started, ended, outcome, replayed]

    if await command() != "RECONNECT":
        return
    storm_started = time.monotonic()
    results = await asyncio.gather(*(reconnect(i, t) for i, t in enumerate(tokens)))
    say(
        sys.stdout,
        "RESULT",
        {"started": storm_started, "reconnects": [r for r in results if r is not None]},
    )
    await command()  # EXIT (or the end of stdin)


# --- Benchmark --------------------------------------------------------------------------


def failures(outcomes: Counter[str], ok: tuple[str, ...]) -> tuple[int, int, dict[str, int]]:
    """(refused handshakes, other failures, every failed outcome with its count)."""
    bad = {k: v for k, v in outcomes.items() if k not in ok}
    refused = sum(v for k, v in bad.items() if k.startswith("refused"))
    return refused, sum(bad.values()) - refused, bad


def timing(rows: list[list[Any]], ok: tuple[str, ...]) -> dict[str, float | None]:
    """p50/p99/max in ms of the successful rows' start -> end."""
    durations = [row[1] - row[0] for row in rows if row[2] in ok]
    if not durations:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(durations, 50) * 1000, 1),
        "p99_ms": round(percentile(durations, 99) * 1000, 1),
        "max_ms": round(max(durations) * 1000, 1),
    }


def ms(figures: dict[str, float | None]) -> str:
    return " / ".join(
        "-" if figures[k] is None else f"{figures[k]:.0f}" for k in ("p50_ms", "p99_ms", "max_ms")
    )


def bench(
    n: int,
    concurrency: int,
    clients: int,
    reconnect: bool,
    timeout: float,
    *,
    server: str,
    processes: int,
) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from contests.models import Contest

    run = datetime.now().strftime("%H%M%S")
    clients = max(1, min(clients, n))
    contest = Contest.objects.create(
        title=f"bench joins {run}", status=Contest.Status.ACTIVE, current_question_index=1
    )
    unusable = make_password(None)
    users = User.objects.bulk_create(
        (
            User(username=f"wsjoin-{run}-{i:05d}", display_name=f"Player {i}", password=unusable)
            for i in range(n + 1)
        ),
        batch_size=5000,
    )
    warmup, *tokens = [str(AccessToken.for_user(u)) for u in users]
    # The cap is for all the load processes together.
    caps = [max(1, concurrency // clients + (i < concurrency % clients)) for i in range(clients)]
    web = WebServer(kind=server, workers=processes)
    workers: list[ClientProcess] = []
    figures: dict[str, Any] = {
        "sockets": n,
        "concurrency": concurrency,
        "clients": clients,
    }
    try:
        workers = [
            ClientProcess(
                __file__,
                share,
                [
                    web.url,
                    str(contest.pk),
                    str(cap),
                    str(timeout),
                    warmup if i == 0 else "-",
                ],
            )
            for i, (share, cap) in enumerate(zip(split(tokens, clients), caps, strict=True))
        ]
        for worker in workers:
            worker.expect("READY")

        # --- Join storm
        rss_before = web.rss_mb()
        cpu_before = web.cpu_seconds()
        for worker in workers:
            worker.tell("JOIN")
        joins = [row for w in workers for row in json.loads(w.expect("RESULT"))["joins"]]
        rss_after = web.rss_mb()
        cpu_join = web.cpu_seconds() - cpu_before
        outcomes = Counter(row[2] for row in joins)
        joined = outcomes[OK_JOIN]
        refused, failed, bad = failures(outcomes, (OK_JOIN,))
        first = min(row[0] for row in joins)
        last = max((row[1] for row in joins if row[2] == OK_JOIN), default=first)
        seconds = last - first
        join = {
            "joined": joined,
            "seconds": round(seconds, 2),
            "joins_per_second": round(joined / seconds, 1) if seconds > 0 else None,
            # Failures included: until the last socket had its answer, good or bad.
            "seconds_to_last_outcome": round(max(row[1] for row in joins) - first, 2),
            "refused": refused,
            "failed": failed,
            "failures": bad,
            **timing(joins, (OK_JOIN,)),
            "rss_before_mb": round(rss_before, 1),
            "rss_after_mb": round(rss_after, 1),
            "rss_per_socket_kib": round((rss_after - rss_before) * 1024 / n, 1),
            "cpu_seconds": round(cpu_join, 2),
        }
        figures["join"] = join
        print(
            f"join storm N={n} C={concurrency}: {joined}/{n} joined in {seconds:.1f} s "
            f"({join['joins_per_second']} joins/s); refused {refused}, failed {failed}"
            f"{f' {bad}' if bad else ''}; connect->contest_state p50/p99/max "
            f"{ms(join)} ms; web RSS {rss_before:.0f} -> {rss_after:.0f} MB "
            f"({join['rss_per_socket_kib']} KiB per socket), CPU {cpu_join:.1f} s",
            flush=True,
        )

        # --- Reconnect storm
        if reconnect:
            cpu_before = web.cpu_seconds()
            for worker in workers:
                worker.tell("RECONNECT")
            results = [json.loads(w.expect("RESULT")) for w in workers]
            cpu_reconnect = web.cpu_seconds() - cpu_before
            rows = [row for result in results for row in result["reconnects"]]
            outcomes = Counter(row[2] for row in rows)
            converged = sum(outcomes[k] for k in OK_RESYNC)
            refused, failed, bad = failures(outcomes, OK_RESYNC)
            started = min(result["started"] for result in results)
            last = max((row[1] for row in rows if row[2] in OK_RESYNC), default=started)
            again = {
                "sockets": len(rows),
                "converged": converged,
                "resync_complete": outcomes["resync_complete"],
                "contest_state": outcomes["contest_state"],
                "replayed": sum(row[3] for row in rows),
                "seconds": round(last - started, 2),
                "seconds_to_last_outcome": round(
                    max((row[1] for row in rows), default=started) - started, 2
                ),
                "refused": refused,
                "failed": failed,
                "failures": bad,
                **timing(rows, OK_RESYNC),
                "cpu_seconds": round(cpu_reconnect, 2),
            }
            figures["reconnect"] = again
            print(
                f"reconnect storm N={len(rows)} C={concurrency}: {converged}/{len(rows)} "
                f"converged in {last - started:.1f} s (resync_complete "
                f"{again['resync_complete']}, contest_state {again['contest_state']}); "
                f"refused {refused}, failed {failed}{f' {bad}' if bad else ''}; "
                f"connect->reply p50/p99/max {ms(again)} ms; web CPU {cpu_reconnect:.1f} s",
                flush=True,
            )
        for worker in workers:
            worker.tell("EXIT")
    finally:
        for worker in workers:
            worker.stop()
        web.stop()
        contest.delete()
        User.objects.filter(username__startswith=f"wsjoin-{run}-").delete()
    return figures


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        tokens_file, url, contest_id, concurrency, timeout, warmup = sys.argv[2:8]
        with open(tokens_file) as f:
            tokens = json.load(f)
        asyncio.run(client_main(tokens, url, contest_id, int(concurrency), float(timeout), warmup))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument(
        "--concurrency", type=int, default=500, help="sockets in flight at once, in all"
    )
    parser.add_argument("--clients", type=int, default=3, help="load-client processes")
    parser.add_argument(
        "--reconnect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then close every socket and reconnect it with resync",
    )
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds a socket may take to its reply"
    )
    add_server_arguments(parser)
    args = parser.parse_args()
    django_setup()
    figures = bench(
        args.sockets,
        args.concurrency,
        args.clients,
        args.reconnect,
        args.timeout,
        server=args.server,
        processes=args.web_processes,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
