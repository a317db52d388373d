"""Room broadcast: N sockets in one contest on one web process, one room event per second.

    createdb -h 127.0.0.1 -U postgres h2bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h2bench REDIS_URL=redis://127.0.0.1:6379/3 \\
    REDIS_KEY_PREFIX=h2bench SECRET_KEY=bench .venv/bin/python bench/ws_broadcast.py \\
    --sockets 1000 5000 --events 20

For each N: creates N users and an active contest, starts the web server (uvicorn as the
Procfile runs it, on loopback: bench/ws_common.py), opens N sockets from --clients load
processes (each socket joins the contest), then publishes --events room events through
realtime.outbound.broadcast at 1/s from this process, as the contest clock would. Prints,
per delivery, the latency from the event's `timestamp` (stamped when it was published) to
its arrival at the client: p50, p99, max; the median over events of the slowest socket's
latency; lost deliveries; the server's CPU per delivered message and memory. --event
leaderboard_update measures the personalised path (one ranks lookup per event per server
process, `you` filled per socket). The users and the contest are deleted at the end.
Everything runs on this machine: the load clients share its cores with the server.

--server daphne or granian runs the project's app on that ASGI server instead.
--web-processes 2 runs that many uvicorn workers sharing the port. --server node runs
the same load clients against bench/node/server.js, a minimal Node `ws` server (no auth,
no database, no channel layer) that answers join_contest with a contest_state and sends
each event this process writes to its stdin to every socket: the same envelopes (shape,
padding, a fresh `timestamp`, `seq` and `epoch`) at the same 1/s, so its CPU per
delivered message is a reference for ours. Its dependencies are installed
(bench/node/install.sh, npm ci) on first use. Several servers (`--server uvicorn daphne
node`) run one after the other for each N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ws_common import (
    SERVERS,
    ClientProcess,
    WebServer,
    django_setup,
    free_port,
    open_joined,
    percentile,
    say,
    split,
)

PADDING = "x" * 120  # brings a question_change to about 300 bytes, like the field notes'
NODE_DIR = Path(__file__).resolve().parent / "node"


# --- Load client (no Django) ------------------------------------------------------------


async def client_main(tokens: list[str], url: str, contest_id: str, events: int) -> None:

    received: list[list[float]] = [[] for _ in tokens]
    gate = asyncio.Semaphore(100)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    remaining = [len(tokens)]

    async def play(i: int, token: str, ready: asyncio.Event) -> None:
        async with gate:
            ws = await open_joined(url, token, contest_id)
        ready.set()
        latencies = received[i]
        async for text in ws:
            arrived = time.time()
            message = json.loads(text)
            if "seq" not in message:
                continue
            sent = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
            latencies.append(arrived - sent.replace(tzinfo=UTC).timestamp())
            if len(latencies) == events:
                remaining[0] -= 1
                if remaining[0] == 0 and not done.done():
                    done.set_result(None)

    readies = [asyncio.Event() for _ in tokens]
    tasks = [
        asyncio.create_task(play(i, t, r))
        for i, (t, r) in enumerate(zip(tokens, readies, strict=True))
    ]
    await asyncio.gather(*(r.wait() for r in readies))
    say(sys.stdout, "READY")
    cpu_started = time.process_time()
    # The benchmark says how long to wait at most once it has published everything.
    line = await loop.run_in_executor(None, sys.stdin.readline)
    timeout = float(line.split()[1])
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, timeout)
    # This load process's CPU while the events arrived: what the clients cost beside the
    # server on the same cores.
    say(sys.stdout, "RESULT", {"latencies": received, "cpu": time.process_time() - cpu_started})
    for task in tasks:
        task.cancel()


# --- Benchmark --------------------------------------------------------------------------


class NodeServer:
    """bench/node/server.js on a free loopback port, driven over its stdin/stdout."""

    def __init__(self) -> None:
        if not (NODE_DIR / "node_modules").is_dir():
            subprocess.run([str(NODE_DIR / "install.sh")], check=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "server.js"), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        if self._line() != "READY":
            raise RuntimeError(f"node server did not start ({self.proc.poll()})")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/contest"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def broadcast(self, text: str) -> None:
        self._tell(f"BROADCAST {text}")

    def usage(self) -> tuple[float, float]:
        """User + system CPU seconds of the node process so far, and its RSS in MB."""
        self._tell("CPU")
        word, cpu, rss = self._line().split()
        if word != "CPU":
            raise RuntimeError(f"node server answered {word!r} to CPU")
        return float(cpu), int(rss) / 2**20

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the server exits when its stdin closes
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def question_change(contest_id: str, i: int) -> dict[str, Any]:
    return {
        "contestId": contest_id,
        "closedQuestionId": str(i),
        "stats": {"answered": i, "correct": i},
        "padding": PADDING,
    }


def load(
    url: str, contest_id: str, tokens: list[str], events: int, clients: int
) -> tuple[list[ClientProcess], float]:
    """Start the load clients; returns them, all sockets joined, and the seconds it took."""
    started = time.monotonic()
    workers: list[ClientProcess] = []
    try:
        for share in split(tokens, clients):
            workers.append(ClientProcess(__file__, share, [url, contest_id, str(events)]))
        for worker in workers:
            worker.expect("READY")
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers, time.monotonic() - started


def publish(events: int, send: Callable[[int], None]) -> None:
    """send(i) for each event, at 1/s, as the contest clock would."""
    next_at = time.monotonic() + 1
    for i in range(events):
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += 1
        send(i)


def collect(workers: list[ClientProcess]) -> list[dict[str, Any]]:
    for worker in workers:
        worker.tell("WAIT 30")
    return [json.loads(worker.expect("RESULT")) for worker in workers]


def bench(n: int, events: int, clients: int, event: str, kind: str, processes: int) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from contests.models import Contest
    from leaderboard.selectors import leaderboard_top
    from realtime.outbound import broadcast, payloads

    run = datetime.now().strftime("%H%M%S")
    contest = Contest.objects.create(
        title=f"bench broadcast {run}", status=Contest.Status.ACTIVE, current_question_index=1
    )
    users = User.objects.bulk_create(
        User(username=f"wsbench-{run}-{i}", display_name=f"Player {i}", password="!")
        for i in range(n)
    )
    tokens = [str(AccessToken.for_user(u)) for u in users]
    server = WebServer(kind=kind, workers=processes)
    name = f"{kind} x{processes}" if processes > 1 else kind
    workers: list[ClientProcess] = []
    try:
        workers, joined = load(server.url, str(contest.pk), tokens, events, clients)
        print(f"N={n}: {n} sockets joined in {joined:.1f} s, {name} RSS {server.rss_mb():.0f} MB")
        cpu_before = server.cpu_seconds()

        def send(i: int) -> None:
            if event == "leaderboard_update":
                board = leaderboard_top(contest_id=contest.pk, limit=10)
                data = payloads.leaderboard_update_payload(
                    contest.pk,
                    top=board["top"],
                    total_participants=board["totalParticipants"],
                    frozen=False,
                )
            else:
                data = question_change(str(contest.pk), i)
            broadcast.send_to_contest(contest.pk, event, data)

        publish(events, send)
        results = collect(workers)
        cpu = server.cpu_seconds() - cpu_before
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        contest.delete()
        User.objects.filter(username__startswith=f"wsbench-{run}-").delete()
    print(summary(n, events, event, results, name, cpu))


def bench_node(n: int, events: int, clients: int) -> None:
    """The same load against bench/node/server.js: no users, no contest, no database."""
    from realtime.outbound.envelope import open_envelope

    contest_id = "1"  # the server ignores it; the payload only carries it
    epoch = secrets.token_hex(4)  # the shape of realtime.outbound.log's epochs
    node = NodeServer()
    workers: list[ClientProcess] = []
    try:
        workers, joined = load(node.url, contest_id, ["node"] * n, events, clients)
        print(f"N={n}: {n} sockets joined in {joined:.1f} s, node RSS {node.usage()[1]:.0f} MB")
        cpu_before = node.usage()[0]

        def send(i: int) -> None:
            # What realtime.outbound.log makes of a room event: the envelope (stamped now)
            # with seq and epoch appended.
            text = open_envelope("question_change", question_change(contest_id, i))
            node.broadcast(f'{text},"seq":{i + 1},"epoch":"{epoch}"}}')

        publish(events, send)
        results = collect(workers)
        cpu, rss = node.usage()
        cpu -= cpu_before
    finally:
        for worker in workers:
            worker.stop()
        node.stop()
    print(f"{summary(n, events, 'question_change', results, 'node', cpu)}, RSS {rss:.0f} MB")


def summary(
    n: int, events: int, event: str, results: list[dict[str, Any]], server: str, cpu: float
) -> str:
    per_socket = [latencies for result in results for latencies in result["latencies"]]
    clients_cpu = sum(result["cpu"] for result in results)
    all_latencies = [x for latencies in per_socket for x in latencies]
    delivered = len(all_latencies)
    # The slowest socket of each event: the latency the last player sees.
    slowest = [
        max(latencies[i] for latencies in per_socket if len(latencies) > i)
        for i in range(events)
        if any(len(latencies) > i for latencies in per_socket)
    ]
    ms = 1000
    return (
        f"N={n} event={event}: {delivered}/{n * events} delivered, "
        f"lost {n * events - delivered}; latency p50 {percentile(all_latencies, 50) * ms:.0f} ms, "
        f"p99 {percentile(all_latencies, 99) * ms:.0f} ms, "
        f"max {max(all_latencies, default=0) * ms:.0f} ms; "
        f"slowest socket per event: median {percentile(slowest, 50) * ms:.0f} ms, "
        f"max {max(slowest, default=0) * ms:.0f} ms; "
        f"{server} CPU {cpu / max(delivered, 1) * 1e6:.0f} us per delivered message "
        f"(load clients {clients_cpu / max(delivered, 1) * 1e6:.0f} us)"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        tokens_file, url, contest_id, events = sys.argv[2:6]
        with open(tokens_file) as f:
            tokens = json.load(f)
        asyncio.run(client_main(tokens, url, contest_id, int(events)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, nargs="+", default=[1000])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--clients", type=int, default=2, help="load-client processes")
    parser.add_argument(
        "--event", choices=["question_change", "leaderboard_update"], default="question_change"
    )
    parser.add_argument(
        "--server",
        nargs="+",
        choices=[*SERVERS, "node"],
        default=["uvicorn"],
        help="the project's app on daphne, uvicorn or granian (bench/ws_common.py), or node: "
        "the Node `ws` reference server of bench/node; each in turn for each N",
    )
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="uvicorn worker processes sharing the port (rooms span them through Redis)",
    )
    args = parser.parse_args()
    if args.web_processes > 1 and set(args.server) - {"uvicorn", "node"}:
        parser.error("--web-processes: uvicorn (and node, which runs one process) only")
    if "node" in args.server and args.event != "question_change":
        parser.error("the node server has no personalised path: --event question_change only")
    django_setup()
    for n in args.sockets:
        for kind in args.server:
            if kind == "node":
                bench_node(n, args.events, args.clients)
            else:
                bench(n, args.events, args.clients, args.event, kind, args.web_processes)


if __name__ == "__main__":
    main()
