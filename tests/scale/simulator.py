"""The whole-contest load simulator: N bot players play a contest against the real stack
(web processes, a Celery worker and beat, PostgreSQL, a Redis of its own), and the run is
measured and checked. Used by bench/simulate.py (large N, figures) and by
tests/scale/test_simulator.py (200 bots, correctness only).

The bots are the fault harness's (tests/reliability/harness.Bot: they play like the web
client, resync on a gap, send an answer again whose reply they lost), plus what a load
run measures: each room event's delivery latency from its envelope `timestamp`, each
answer's submit→result time, and a chosen share of bots that drop their socket once and
come back with `resync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import ClientConnection

from accounts.models import User
from contests.models import Contest
from contests.services import contest_create
from tests.reliability.harness import Bot, Stack, check_invariants, play_all

# Direct replies, never room events (and the bots send a requestId that replies echo).
_NOT_BROADCAST = frozenset(
    {"contest_state", "resync_complete", "submission_result", "error", "pong"}
)


@dataclass
class SimBot(Bot):
    """A harness bot that also measures, and may drop its socket once."""

    drop_after_question: int | None = None  # drop when this question (1-based) opens
    latencies: dict[str, list[float]] = field(default_factory=dict)  # event -> seconds
    submit_to_result: list[float] = field(default_factory=list)
    sent_mono: dict[str, float] = field(default_factory=dict)
    # Room events as they arrived, before the bot drops one it already applied.
    received: Counter[tuple[str, int]] = field(default_factory=Counter)
    questions_seen: int = 0
    dropped: bool = False

    async def _on(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        arrived = time.time()
        if "requestId" not in message and message["event"] not in _NOT_BROADCAST:
            # A room event (timer_update too, which carries no seq: it is not logged).
            sent = _epoch_seconds(message["timestamp"])
            self.latencies.setdefault(message["event"], []).append(arrived - sent)
            if "seq" in message:
                self.received[(message["epoch"], message["seq"])] += 1
        elif message["event"] == "submission_result":
            started = self.sent_mono.pop(message["data"]["questionId"], None)
            if started is not None:
                self.submit_to_result.append(time.monotonic() - started)
        await super()._on(ws, message)
        if message.get("event") == "question_broadcast" and "seq" in message:
            self.questions_seen += 1
            if self.questions_seen == self.drop_after_question and not self.dropped:
                self.dropped = True
                # Closed from here, the session loop ends and play() reconnects (backoff)
                # and resyncs from its last seq, as a phone that lost its network does.
                await ws.close()

    async def _answer_open(self, ws: ClientConnection) -> None:
        now = time.monotonic()
        for question_id in self.unanswered - set(self.acked) - self.closed:
            self.sent_mono.setdefault(question_id, now)
        await super()._answer_open(ws)


def _epoch_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Plan:
    bots: int = 200
    questions: int = 3
    question_seconds: int = 5
    intermission_seconds: int = 1
    accuracy: float = 0.6  # share of right answers
    think: tuple[float, float] = (0.2, 3.0)  # seconds before answering, drawn per question
    drop: float = 0.05  # share of bots that drop their socket once and resync
    seed: int = 1


def contest_and_bots(stack: Stack, plan: Plan, run: str) -> tuple[Contest, list[SimBot], str]:
    """A contest of single-choice questions (choice A right) and its bot players, created
    in bulk: one shared unusable password hash, tokens signed here (no login round trip,
    no password hashing per user)."""
    rng = random.Random(plan.seed)
    question = {
        "type": "single_choice",
        "time_limit_seconds": plan.question_seconds,
        "choices": [{"text": c, "is_correct": c == "A"} for c in "ABCD"],
    }
    contest = contest_create(
        data={
            "title": f"Simulated contest {run}",
            "intermission_seconds": plan.intermission_seconds,
            "start_time": timezone.now() + timedelta(hours=1),
            "questions": [dict(question, text=f"Question {i + 1}") for i in range(plan.questions)],
        },
        created_by=None,
    )
    unusable = make_password(None)
    users = User.objects.bulk_create(
        User(username=f"sim-{run}-{i:05d}", display_name=f"Bot {i}", password=unusable)
        for i in range(plan.bots)
    )
    organizer = User.objects.create(
        username=f"sim-{run}-organizer", is_staff=True, is_superuser=True, password=unusable
    )
    choices = {
        str(q.pk): [str(c.pk) for c in q.ordered_choices()] for q in contest.ordered_questions()
    }
    urls = [web.ws_url for web in stack.webs]
    droppers = set(rng.sample(range(plan.bots), round(plan.bots * plan.drop)))
    bots = [
        SimBot(
            name=user.username,
            token=str(AccessToken.for_user(user)),
            urls=urls[i % len(urls) :] + urls[: i % len(urls)],
            contest_id=str(contest.pk),
            answers={
                q: ids[0] if rng.random() < plan.accuracy else ids[1 + rng.randrange(3)]
                for q, ids in choices.items()
            },
            think=plan.think,
            drop_after_question=(1 + i % plan.questions) if i in droppers else None,
        )
        for i, user in enumerate(users)
    ]
    return contest, bots, str(AccessToken.for_user(organizer))


def control(stack: Stack, token: str, contest: Contest, name: str) -> int:
    """An organizer control through the REST API of the first web process."""
    request = urllib.request.Request(
        f"{stack.webs[0].http_url}/api/contests/{contest.pk}/{name}/",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (100 Hz)


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def seq_report(bots: list[SimBot]) -> dict[str, int]:
    """Room events each bot applied, checked by seq: a bot applies an event only in
    order (a gap makes it resync, which replays what it missed), so in one epoch its
    applied seqs must run without a hole or a repeat from the first to the last. And
    how many arrived again after they had arrived once (the bot ignores those)."""
    holes = repeats = epochs = 0
    for bot in bots:
        by_epoch: dict[str, list[int]] = {}
        for epoch, seq, _ in bot.seen:
            by_epoch.setdefault(epoch, []).append(seq)
        epochs = max(epochs, len(by_epoch))
        for seqs in by_epoch.values():
            repeats += len(seqs) - len(set(seqs))
            if seqs:
                holes += (max(seqs) - min(seqs) + 1) - len(set(seqs))
    received_twice = sum(n - 1 for bot in bots for n in bot.received.values() if n > 1)
    return {
        "holes": holes,
        "repeats": repeats,
        "received_twice": received_twice,
        "most_epochs_seen_by_a_bot": epochs,
    }


async def _progress(bots: list[SimBot], started: float, out: Any) -> None:
    while True:
        await asyncio.sleep(1)
        joined = sum(1 for b in bots if b.epoch is not None)
        answers = sum(len(b.acked) for b in bots)
        events = sum(len(b.seen) for b in bots)
        ended = sum(1 for b in bots if b.ended)
        out.write(
            f"\r{time.monotonic() - started:6.1f} s  joined {joined}/{len(bots)}  "
            f"events {events}  answers {answers}  ended {ended}   "
        )
        out.flush()


def simulate(
    stack: Stack,
    plan: Plan,
    *,
    run: str = "",
    progress: Any = None,
    play_seconds: float | None = None,
) -> dict[str, Any]:
    """Play one contest; return the figures and the database check's verdict."""
    run = run or f"{int(time.time())}"
    contest, bots, organizer = contest_and_bots(stack, plan, run)
    pids = [web.proc.pid for web in stack.webs if web.proc is not None]
    contest_seconds = plan.questions * (plan.question_seconds + plan.intermission_seconds + 2)
    budget = play_seconds or 120 + contest_seconds + plan.bots / 50

    figures: dict[str, Any] = {"plan": {**plan.__dict__, "web_processes": len(stack.webs)}}

    async def scenario() -> None:
        started = time.monotonic()
        reporter = asyncio.create_task(_progress(bots, started, progress)) if progress else None
        rss_before = sum(_rss_bytes(pid) for pid in pids)
        playing = asyncio.create_task(play_all(list(bots), until_ended=budget))
        while not all(bot.epoch is not None for bot in bots):
            if playing.done() or time.monotonic() - started > budget:
                break
            await asyncio.sleep(0.05)
        figures["connect_and_join_seconds"] = round(time.monotonic() - started, 2)
        figures["rss_per_socket_kib"] = round(
            (sum(_rss_bytes(pid) for pid in pids) - rss_before) / len(bots) / 1024, 1
        )
        cpu_before = sum(_cpu_seconds(pid) for pid in pids)
        played_from = time.monotonic()
        assert await asyncio.to_thread(control, stack, organizer, contest, "start") == 200
        await playing
        figures["play_seconds"] = round(time.monotonic() - played_from, 2)
        figures["web_cpu_seconds"] = round(sum(_cpu_seconds(pid) for pid in pids) - cpu_before, 2)
        figures["web_rss_mb"] = round(sum(_rss_bytes(pid) for pid in pids) / 2**20, 1)
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            progress.write("\n")

    asyncio.run(scenario())

    latencies: dict[str, list[float]] = {}
    for bot in bots:
        for event, values in bot.latencies.items():
            latencies.setdefault(event, []).extend(values)
    figures["delivery_ms"] = {
        event: {
            "deliveries": len(values),
            "p50": _ms(_percentile(values, 50)),
            "p99": _ms(_percentile(values, 99)),
            "max": _ms(max(values)),
        }
        for event, values in sorted(latencies.items())
    }
    results = [s for bot in bots for s in bot.submit_to_result]
    figures["answers"] = {
        "acknowledged": len(results),
        "submit_to_result_ms": {
            "p50": _ms(_percentile(results, 50)),
            "p99": _ms(_percentile(results, 99)),
        },
    }
    figures["seq"] = seq_report(bots)
    figures["dropped_and_resynced"] = sum(1 for b in bots if b.dropped)
    figures["close_codes"] = dict(Counter(code for b in bots for code in b.close_codes))
    figures["refusals"] = dict(sum((b.refusals for b in bots), Counter()))
    try:
        check = check_invariants(contest, list(bots), stack)
        figures["database_check"] = "ok"
        figures["answers"]["stored"] = check["answers_stored"]
    except AssertionError as failed:
        figures["database_check"] = f"failed: {str(failed)[:2000]}"
    figures["bots"] = bots  # for the caller's own checks; not printed
    return figures


def printable(figures: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in figures.items() if k != "bots"}, indent=2)


def stderr_progress() -> Any:
    return sys.stderr
