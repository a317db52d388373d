"""Answers over the WebSocket: submissions per second and their latency on one web process.

    createdb -h 127.0.0.1 -U postgres h2bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h2bench REDIS_URL=redis://127.0.0.1:6379/3 \\
    REDIS_KEY_PREFIX=h2bench SECRET_KEY=bench .venv/bin/python bench/ws_submissions.py \\
    --sockets 1000 --rounds 5 --window 2 1

N players (one socket each, joined to one active contest). Each round opens the next
question (directly in the database, as the contest clock would) and every socket answers
it once, the N answers spread evenly over --window seconds (one round per window value:
a shorter window is a higher offered rate). An answer's latency runs from sending
submit_answer to receiving its submission_result, which the server sends only after the
answer is committed to PostgreSQL (grading, scoring, the leaderboard's Redis update on
commit included). Prints per window: the offered and the achieved rate (answers / time
from the first send to the last result), p50/p99/max latency, errors by code, and checks
that the database holds exactly one row per accepted answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from datetime import timedelta

from ws_common import (
    ClientProcess,
    WebServer,
    add_server_arguments,
    django_setup,
    open_joined,
    percentile,
    say,
    split,
)

# --- Load client (no Django) ------------------------------------------------------------


async def client_main(tokens: list[str], url: str, contest_id: str) -> None:

    gate = asyncio.Semaphore(100)
    loop = asyncio.get_running_loop()

    async def open_one(token: str):
        async with gate:
            return await open_joined(url, token, contest_id)

    sockets = await asyncio.gather(*(open_one(t) for t in tokens))
    say(sys.stdout, "READY")

    async def answer(ws, delay: float, data: dict) -> tuple[float, float, str]:
        await asyncio.sleep(delay)
        sent = time.monotonic()
        await ws.send(json.dumps({"event": "submit_answer", "data": data, "requestId": "a"}))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("requestId") == "a":
                outcome = reply["event"] if reply["event"] != "error" else reply["data"]["code"]
                return sent, time.monotonic(), outcome

    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.startswith("GO"):
            return
        _, question_id, choice_id, window = line.split()
        data = {"contestId": contest_id, "questionId": question_id, "answer": choice_id}
        rng = random.Random()
        results = await asyncio.gather(
            *(answer(ws, rng.uniform(0, float(window)), data) for ws in sockets)
        )
        say(sys.stdout, "DONE", results)


# --- Benchmark --------------------------------------------------------------------------


def bench(
    n: int, rounds: int, windows: list[float], clients: int, *, server: str, processes: int
) -> None:
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from contests.models import Choice, Contest, Question, Submission

    run = timezone.now().strftime("%H%M%S")
    total_rounds = rounds * len(windows)
    contest = Contest.objects.create(title=f"bench submissions {run}", intermission_seconds=0)
    questions = []
    for order in range(1, total_rounds + 1):
        question = Question.objects.create(
            contest=contest, order=order, text=f"Q{order}?", time_limit_seconds=600
        )
        right = Choice.objects.create(question=question, text="A", is_correct=True, order=1)
        Choice.objects.create(question=question, text="B", is_correct=False, order=2)
        questions.append((question, right))
    users = User.objects.bulk_create(
        User(username=f"wssub-{run}-{i}", display_name=f"Player {i}", password="!")
        for i in range(n)
    )
    tokens = [str(AccessToken.for_user(u)) for u in users]
    # Answering every round from one socket is the benchmark, not a flood.
    web = WebServer({"WS_RATE_LIMIT_PER_SECOND": "100"}, kind=server, workers=processes)
    workers: list[ClientProcess] = []
    try:
        workers = [
            ClientProcess(__file__, share, [web.url, str(contest.pk)])
            for share in split(tokens, clients)
        ]
        for worker in workers:
            worker.expect("READY")
        print(f"N={n}: {n} sockets joined; web RSS {web.rss_mb():.0f} MB")
        index = 0
        for window in windows:
            latencies: list[float] = []
            outcomes: Counter[str] = Counter()
            busy = 0.0
            cpu_before = web.cpu_seconds()
            for _ in range(rounds):
                question, right = questions[index]
                index += 1
                now = timezone.now()
                Contest.objects.filter(pk=contest.pk).update(
                    status=Contest.Status.ACTIVE,
                    started_at=now,
                    current_question_index=index,
                    question_open=True,
                    question_started_at=now,
                    question_deadline=now + timedelta(seconds=600),
                )
                for worker in workers:
                    worker.tell(f"GO {question.pk} {right.pk} {window}")
                round_first, round_last = float("inf"), 0.0
                for worker in workers:
                    for sent, done, outcome in json.loads(worker.expect("DONE")):
                        latencies.append(done - sent)
                        outcomes[outcome] += 1
                        round_first, round_last = min(round_first, sent), max(round_last, done)
                busy += round_last - round_first
            cpu = web.cpu_seconds() - cpu_before
            answers = n * rounds
            stored = Submission.objects.filter(
                question__in=[q for q, _ in questions[index - rounds : index]]
            ).count()
            print(
                f"N={n} window={window}s: offered {n / window:.0f}/s, achieved "
                f"{answers / busy:.0f}/s; latency p50 {percentile(latencies, 50) * 1000:.0f}"
                f" ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms; outcomes {dict(outcomes)}; "
                f"rows {stored}/{outcomes['submission_result']}; "
                f"web CPU {cpu / answers * 1000:.1f} ms per answer"
            )
    finally:
        for worker in workers:
            worker.stop()
        web.stop()
        contest.delete()
        User.objects.filter(username__startswith=f"wssub-{run}-").delete()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        tokens_file, url, contest_id = sys.argv[2:5]
        with open(tokens_file) as f:
            tokens = json.load(f)
        asyncio.run(client_main(tokens, url, contest_id))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="questions per window")
    parser.add_argument("--window", type=float, nargs="+", default=[2.0, 1.0])
    parser.add_argument("--clients", type=int, default=2, help="load-client processes")
    add_server_arguments(parser)
    args = parser.parse_args()
    django_setup()
    bench(
        args.sockets,
        args.rounds,
        args.window,
        args.clients,
        server=args.server,
        processes=args.web_processes,
    )


if __name__ == "__main__":
    main()
