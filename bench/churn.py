"""Memory under churn: sockets that connect, join a contest and leave, again and again.

    createdb -h 127.0.0.1 -U postgres benchdb
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchdb REDIS_URL=redis://127.0.0.1:6379/7 \\
    REDIS_KEY_PREFIX=bench SECRET_KEY=bench-secret-key-bench-secret-key-123 \\
    .venv/bin/python bench/churn.py --cycles 20000 --concurrency 40

One daphne (the flags of bench/ws_common.py) and one active contest. A load-client
process runs --concurrency loops, each repeating: open a socket, join the contest (its
contest_state read), close (--mode connect: no join; --mode ping: a ping instead).
Prints daphne's RSS after a warm-up of --warmup cycles and then every --every cycles,
and the growth from the warm-up point to the end (the reliability target: within 10 %
after 20,000 cycles). Extra environment for daphne, to compare allocator settings:
--env NAME=VALUE (repeatable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import datetime

from ws_common import ClientProcess, WebServer, django_setup, open_joined, say

# Fewer than WS_MAX_CONNECTIONS_PER_USER sockets per user are open at any moment.
USERS = 200


# --- Load client (no Django) ------------------------------------------------------------


async def cycle(url: str, token: str, contest_id: str, mode: str) -> None:
    if mode == "join":
        ws = await open_joined(url, token, contest_id)
    else:
        from websockets.asyncio.client import connect

        ws = await connect(f"{url}?token={token}", compression=None, ping_interval=None)
        if mode == "ping":
            await ws.send(json.dumps({"event": "ping"}))
            await ws.recv()
    await ws.close()


async def client_main(
    tokens: list[str], url: str, contest_id: str, concurrency: int, mode: str
) -> None:
    loop = asyncio.get_running_loop()
    done = [0]
    errors: list[str] = []
    stop = asyncio.Event()

    async def churn(worker: int) -> None:
        i = worker
        while not stop.is_set():
            token = tokens[i % len(tokens)]
            i += concurrency
            try:
                await cycle(url, token, contest_id, mode)
            except Exception as exc:  # counted and reported, the loop goes on
                errors.append(type(exc).__name__)
            done[0] += 1

    tasks = [asyncio.create_task(churn(w)) for w in range(concurrency)]
    say(sys.stdout, "READY")
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.startswith("COUNT"):
            say(sys.stdout, "COUNT", done[0])
        else:
            break
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    say(sys.stdout, "RESULT", {"cycles": done[0], "errors": len(errors)})


# --- Benchmark --------------------------------------------------------------------------


def cycles_so_far(client: ClientProcess) -> int:
    client.tell("COUNT")
    return int(client.expect("COUNT"))


def bench(
    cycles: int, warmup: int, every: int, concurrency: int, mode: str, env: dict[str, str]
) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from contests.models import Contest

    run = datetime.now().strftime("%H%M%S")
    contest = Contest.objects.create(
        title=f"bench churn {run}", status=Contest.Status.ACTIVE, current_question_index=0
    )
    users = User.objects.bulk_create(
        User(username=f"churn-{run}-{i}", display_name=f"Churn {i}", password="!")
        for i in range(USERS)
    )
    tokens = [str(AccessToken.for_user(u)) for u in users]
    daphne = WebServer(env)
    client = ClientProcess(__file__, tokens, [daphne.url, str(contest.pk), str(concurrency), mode])
    try:
        client.expect("READY")
        started = time.monotonic()
        marks: list[tuple[int, float]] = []
        next_mark = warmup
        while True:
            done = cycles_so_far(client)
            if done >= next_mark:
                marks.append((done, daphne.rss_mb()))
                rate = done / (time.monotonic() - started)
                print(f"{done:>7} cycles: daphne RSS {marks[-1][1]:.1f} MB ({rate:.0f} cycles/s)")
                if done >= cycles:
                    break
                next_mark = next_mark + every if next_mark >= warmup else warmup
            time.sleep(0.5)
        client.tell("STOP")
        result = json.loads(client.expect("RESULT"))
    finally:
        client.stop()
        daphne.stop()
        contest.delete()
        User.objects.filter(pk__in=[u.pk for u in users]).delete()
    start_rss, end_rss = marks[0][1], marks[-1][1]
    print(
        f"cycles {result['cycles']}, errors {result['errors']}; RSS after {marks[0][0]} cycles "
        f"{start_rss:.1f} MB, after {marks[-1][0]} {end_rss:.1f} MB: "
        f"{(end_rss - start_rss) / start_rss * 100:+.1f} %, "
        f"{(end_rss - start_rss) * 1024 * 1024 / max(1, marks[-1][0] - marks[0][0]):.0f} "
        "bytes per cycle"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--every", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument(
        "--mode",
        choices=["join", "connect", "ping"],
        default="join",
        help="each cycle: connect, join and close (default); connect and close; or ping",
    )
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args, rest = parser.parse_known_args()
    if args.client:
        with open(args.client) as f:
            tokens = json.load(f)
        url, contest_id, concurrency, mode = rest
        asyncio.run(client_main(tokens, url, contest_id, int(concurrency), mode))
        return
    django_setup()
    env = dict(item.split("=", 1) for item in args.env)
    bench(args.cycles, args.warmup, args.every, args.concurrency, args.mode, env)


if __name__ == "__main__":
    main()
