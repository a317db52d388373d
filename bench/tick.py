"""Cost of one contest-clock tick with K active contests, on PostgreSQL and Redis.

    createdb -h 127.0.0.1 -U postgres h3bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h3bench REDIS_URL=redis://127.0.0.1:6379/3 \\
    REDIS_KEY_PREFIX=bench SECRET_KEY=bench .venv/bin/python bench/tick.py --contests 1 10 100

For each K it prints the milliseconds of
- a quiet tick: every contest has a question open, nothing is due; the tick reads the
  clock, finds nothing due and sends K timer_updates (what almost every tick does);
- a busy tick: all K contests are due at once (every question closes, or every next
  question opens); the tick performs K transitions and their broadcasts.
The contests it creates are deleted at the end. Migrates the database first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from contests.models import Choice, Contest, Question  # noqa: E402
from contests.services import contest_start, contest_tick  # noqa: E402
from core.time import db_now  # noqa: E402

QUESTIONS = 3
TIME_LIMIT = 600
INTERMISSION = 5


def contests_create(k: int, owner: User) -> list[Contest]:
    contests = Contest.objects.bulk_create(
        Contest(title=f"bench {i}", intermission_seconds=INTERMISSION, created_by=owner)
        for i in range(k)
    )
    questions = Question.objects.bulk_create(
        Question(contest=c, order=n + 1, text=f"Q{n + 1}?", time_limit_seconds=TIME_LIMIT)
        for c in contests
        for n in range(QUESTIONS)
    )
    Choice.objects.bulk_create(
        Choice(question=q, text=text, is_correct=text == "A", order=n)
        for q in questions
        for n, text in enumerate("AB")
    )
    return contests


def timed(now=None) -> float:
    started = time.perf_counter()
    contest_tick(now=now)
    return (time.perf_counter() - started) * 1000


def bench(k: int, ticks: int, owner: User) -> tuple[float, float, float, float]:
    contests = contests_create(k, owner)
    try:
        t0 = db_now()
        for contest in contests:
            contest_start(contest_id=contest.pk, now=t0)
        quiet = [timed() for _ in range(ticks)]
        closes, opens = [], []
        now = t0
        for _ in range(QUESTIONS - 1):
            now += timedelta(seconds=TIME_LIMIT + 1)
            closes.append(timed(now))
            now += timedelta(seconds=INTERMISSION)
            opens.append(timed(now))
        assert Contest.objects.filter(pk__in=[c.pk for c in contests], current_question_index=3)
        return (
            statistics.median(quiet),
            max(quiet),
            statistics.median(closes),
            statistics.median(opens),
        )
    finally:
        Contest.objects.filter(pk__in=[c.pk for c in contests]).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contests", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(username="bench-organizer", defaults={"is_staff": True})
    timed()  # warm up connections and the broadcast loop
    print(
        f"{'K':>5} {'quiet ms (median)':>18} {'quiet ms (max)':>15} "
        f"{'K closes ms':>12} {'K opens ms':>11} {'ms/transition':>14}"
    )
    for k in args.contests:
        quiet, quiet_max, close, open_ = bench(k, args.ticks, owner)
        per = (close + open_) / 2 / k
        print(
            f"{k:>5} {quiet:>18.2f} {quiet_max:>15.2f} {close:>12.1f} {open_:>11.1f} {per:>14.2f}"
        )


if __name__ == "__main__":
    main()
