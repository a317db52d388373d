"""How late the contest clock's transitions reach players, with the full stack: daphne,
a Celery worker and Celery beat against PostgreSQL and Redis.

    createdb -h 127.0.0.1 -U postgres benchdb
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchdb REDIS_URL=redis://127.0.0.1:6379/7 \\
    REDIS_KEY_PREFIX=bench SECRET_KEY=bench-secret-key-bench-secret-key-123 \\
    .venv/bin/python bench/transitions.py --contests 4 --questions 14

K contests of Q single-choice questions (the shortest time limit the model allows, 5 s,
and a 1 s intermission) run at once, their starts staggered so that their transitions do
not coincide. One player per contest joins over a WebSocket and never answers (so no
question closes early). For every transition the player sees, it measures:
- close: `question_change`'s envelope `timestamp` minus the closed question's
  `deadline` + SUBMISSION_GRACE_MS (the instant it was due);
- open: `question_broadcast`'s envelope `timestamp` minus the `nextStartsAt` that the
  previous `question_change` announced;
and the same against the moment the client received it (same machine, same clock).
K x Q closes and K x (Q - 1) opens: 4 x 14 gives 108 transitions. Migrates the database
first; the contests it creates are deleted at the end. Works on any version of the code
that speaks docs/PROTOCOL.md (to measure before and after a change).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ws_common import BIN, ROOT, WebServer, django_setup, percentile


def celery(*args: str) -> tuple[subprocess.Popen[bytes], Path]:
    handle, name = tempfile.mkstemp(prefix=f"bench-celery-{args[0]}-", suffix=".log")
    proc = subprocess.Popen(
        [str(BIN / "celery"), "-A", "contestsite", *args, "--loglevel=WARNING"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.close(handle)
    return proc, Path(name)


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
    if errors:
        print(f"{log.name}: {len(errors)} error lines, first: {errors[0]}")
    log.unlink(missing_ok=True)


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


class Player:
    """One socket joined to one contest; keeps (arrival, message) until contest_end."""

    def __init__(self, url: str, token: str, contest_id: str) -> None:
        self.url, self.token, self.contest_id = url, token, contest_id
        self.messages: list[tuple[datetime, dict[str, Any]]] = []
        self.joined = asyncio.Event()

    async def play(self) -> None:
        from websockets.asyncio.client import connect

        url = f"{self.url}?token={self.token}"
        async with connect(url, compression=None, open_timeout=60) as ws:
            join = {"event": "join_contest", "data": {"contestId": self.contest_id}}
            await ws.send(json.dumps(join))
            while json.loads(await ws.recv())["event"] != "contest_state":
                pass
            self.joined.set()
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 120))
                self.messages.append((datetime.now(UTC), message))
                if message["event"] == "contest_end":
                    return

    def lateness(self, grace: timedelta) -> tuple[list[tuple[float, float]], ...]:
        """([(close late ms by timestamp, by arrival)], [(open ..., ...)])."""
        closes: list[tuple[float, float]] = []
        opens: list[tuple[float, float]] = []
        due_close: datetime | None = None
        due_open: datetime | None = None
        for arrived, message in self.messages:
            event, data = message["event"], message["data"]
            sent = instant(message["timestamp"])
            if event == "question_broadcast":
                if due_open is not None:
                    opens.append((ms(sent - due_open), ms(arrived - due_open)))
                due_close, due_open = instant(data["deadline"]) + grace, None
            elif event == "question_change" and due_close is not None:
                closes.append((ms(sent - due_close), ms(arrived - due_close)))
                starts = data.get("nextStartsAt")
                due_open, due_close = (instant(starts) if starts else None), None
        return closes, opens


def create_contests(k: int, questions: int, time_limit: int, intermission: int) -> list[Any]:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from contests.models import Choice, Contest, Question

    owner, _ = User.objects.get_or_create(username="bench-organizer", defaults={"is_staff": True})
    made = []
    for i in range(k):
        contest = Contest.objects.create(
            title=f"transitions {i}", intermission_seconds=intermission, created_by=owner
        )
        for n in range(questions):
            question = Question.objects.create(
                contest=contest, order=n + 1, text=f"Q{n + 1}?", time_limit_seconds=time_limit
            )
            Choice.objects.bulk_create(
                Choice(question=question, text=t, is_correct=t == "A", order=j)
                for j, t in enumerate("AB")
            )
        player, _ = User.objects.get_or_create(username=f"bench-transitions-{i}")
        made.append((contest, str(AccessToken.for_user(player))))
    return made


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<34} {len(values):>5} {percentile(values, 50):>8.1f} "
        f"{percentile(values, 99):>8.1f} {max(values):>8.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contests", type=int, default=4)
    parser.add_argument("--questions", type=int, default=14)
    parser.add_argument("--time-limit", type=int, default=5)
    parser.add_argument("--intermission", type=int, default=1)
    parser.add_argument("--stagger", type=float, default=1.37, help="seconds between starts")
    parser.add_argument("--dump", help="also write every measurement to this JSON file")
    args = parser.parse_args()

    django_setup()
    from django.conf import settings

    from contests.models import Contest
    from contests.services import contest_start

    grace = timedelta(milliseconds=settings.SUBMISSION_GRACE_MS)
    made = create_contests(args.contests, args.questions, args.time_limit, args.intermission)
    daphne = WebServer()
    worker, worker_log = celery("worker", "--pool=threads", "--concurrency=4", "--without-gossip")
    beat_dir = Path(tempfile.mkdtemp(prefix="bench-beat-"))
    beat, beat_log = celery("beat", "-s", str(beat_dir / "schedule"))
    players = [Player(daphne.url, token, str(contest.pk)) for contest, token in made]

    async def scenario() -> None:
        games = [asyncio.create_task(p.play()) for p in players]
        for player in players:
            await asyncio.wait_for(player.joined.wait(), 60)
        await asyncio.sleep(3)  # the worker and beat are up
        for contest, _ in made:
            await asyncio.to_thread(contest_start, contest_id=contest.pk)
            await asyncio.sleep(args.stagger)
        await asyncio.gather(*games)

    started = time.monotonic()
    try:
        asyncio.run(scenario())
    finally:
        stop(beat, beat_log)
        stop(worker, worker_log)
        daphne.stop()
        Contest.objects.filter(pk__in=[c.pk for c, _ in made]).delete()

    closes: list[tuple[float, float]] = []
    opens: list[tuple[float, float]] = []
    for player in players:
        c, o = player.lateness(grace)
        closes += c
        opens += o
    if args.dump:
        raw = [
            {"closes": c, "opens": o, "events": [(m["event"], m.get("seq")) for _, m in p.messages]}
            for p, (c, o) in ((p, p.lateness(grace)) for p in players)
        ]
        Path(args.dump).write_text(json.dumps(raw))
    expected = (args.contests * args.questions, args.contests * (args.questions - 1))
    if (len(closes), len(opens)) != expected:
        print(f"MISSING: {len(closes)} closes and {len(opens)} opens seen, {expected} expected")
    print(
        f"{args.contests} contests x {args.questions} questions ({args.time_limit} s, "
        f"intermission {args.intermission} s): {len(closes) + len(opens)} transitions "
        f"in {time.monotonic() - started:.0f} s"
    )
    print(f"{'lateness (ms)':<34} {'n':>5} {'p50':>8} {'p99':>8} {'max':>8}")
    print(summary("close, by envelope timestamp", [c[0] for c in closes]))
    print(summary("close, at the client", [c[1] for c in closes]))
    print(summary("open, by envelope timestamp", [o[0] for o in opens]))
    print(summary("open, at the client", [o[1] for o in opens]))


if __name__ == "__main__":
    main()
