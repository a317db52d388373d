"""Cost of the live leaderboard with N participants, on PostgreSQL and Redis.

    createdb -h 127.0.0.1 -U postgres h4bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h4bench REDIS_URL=redis://127.0.0.1:6379/4 \\
    REDIS_KEY_PREFIX=h4bench SECRET_KEY=bench .venv/bin/python bench/leaderboard.py \\
    --participants 1000 10000

For each N (one running contest of QUESTIONS questions, every participant has answered
ANSWERED of them) it prints:
- leaderboard_record: per submission (the totals query + the versioned ZADD script), and
  the two parts apart;
- one flush: top LEADERBOARD_TOP_N + totalParticipants + one leaderboard_update broadcast
  (dirty contest), and a quiet flush (nothing changed);
- leaderboard_ranks for 1,000 and N ids (the hub's one lookup per broadcast);
- a full rebuild (after Redis lost the set) and final_standings_write;
- the last question's close, which completes the contest (`contest_advance` in one
  transaction: question_change, the final standings, contest_end), rolled back, then
  committed (with the commit's deferred foreign-key checks and the publishing of
  contest_end after it);
- once completed: the top N and N ranks, read from FinalStanding.
The contest and its users are deleted at the end. Migrates the database first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")

import django
import redis

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from contests.models import Contest, Participant, Question, Submission  # noqa: E402
from contests.services import lifecycle  # noqa: E402
from core.redis import get_redis  # noqa: E402
from leaderboard import live, selectors, services  # noqa: E402
from leaderboard.models import FinalStanding  # noqa: E402

QUESTIONS = 10
ANSWERED = 5
RECORD_SAMPLES = 500


def contest_create(n: int, run: str) -> tuple[Contest, list[Participant]]:
    contest = Contest.objects.create(
        title=f"bench leaderboard {run}", status=Contest.Status.ACTIVE, current_question_index=1
    )
    questions = Question.objects.bulk_create(
        Question(contest=contest, order=i + 1, text=f"Q{i + 1}?") for i in range(QUESTIONS)
    )
    users = User.objects.bulk_create(
        User(username=f"lbbench-{run}-{i}", display_name=f"Player {i}") for i in range(n)
    )
    start = timezone.now()
    participants = Participant.objects.bulk_create(
        Participant(
            contest=contest,
            user=u,
            display_name=u.display_name,
            registered_at=start + timedelta(microseconds=i),
        )
        for i, u in enumerate(users)
    )
    rng = random.Random(n)
    submissions = []
    for p in participants:
        for q in rng.sample(questions, ANSWERED):
            correct = rng.random() < 0.6
            submissions.append(
                Submission(
                    participant=p,
                    question=q,
                    answer="x",
                    is_correct=correct,
                    points_awarded=rng.randint(500, 1000) if correct else 0,
                    response_time_ms=rng.randint(300, 20_000),
                    received_at=start,
                )
            )
    Submission.objects.bulk_create(submissions, batch_size=5000)
    return contest, participants


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each call."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def show(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"  {label:<52} median {statistics.median(ms):8.3f} ms   p99 {p99:8.3f} ms   (n={len(ms)})"
    )


def lose(client: redis.Redis, cid: str) -> None:
    """What a Redis restart does to the contest's live set (live.drop would mark the
    contest completed: no rebuild after it)."""
    keys = client.keys(live.key(cid, "*"))
    if keys:
        client.delete(*keys)


def bench(n: int) -> None:
    client = get_redis()
    assert client is not None, "set REDIS_URL"
    run = f"{n}-{int(time.time())}"
    t = time.perf_counter()
    contest, participants = contest_create(n, run)
    cid = str(contest.pk)
    setup = time.perf_counter() - t
    print(f"\nN = {n} participants, {n * ANSWERED} submissions (setup {setup:.1f} s)")
    try:
        rebuild = timed(
            lambda: (lose(client, cid), services.leaderboard_rebuild(contest_id=cid)), 3
        )
        show("full rebuild (DB read + one write script)", rebuild)
        show(
            "  of which: totals query for everyone",
            timed(lambda: selectors.totals_from_database(contest_id=cid), 3),
        )
        everyone = selectors.totals_from_database(contest_id=cid)
        show(
            "  of which: write script for everyone",
            timed(lambda: live.write(client, cid, everyone), 3),
        )

        sample = random.Random(1).sample(participants, min(RECORD_SAMPLES, n))
        show(
            "leaderboard_record (per submission)",
            [
                timed(
                    lambda p=p: services.leaderboard_record(contest_id=cid, participant_id=p.pk),
                    1,
                )[0]
                for p in sample
            ],
        )
        show(
            "  of which: one participant's totals query",
            [
                timed(
                    lambda p=p: selectors.totals_from_database(contest_id=cid, participant_id=p.pk),
                    1,
                )[0]
                for p in sample[:200]
            ],
        )
        one = selectors.totals_from_database(contest_id=cid, participant_id=sample[0].pk)
        show("  of which: versioned ZADD script", timed(lambda: live.write(client, cid, one), 200))

        def dirty_flush() -> None:
            live.mark_dirty(client, cid)
            services.leaderboard_flush()

        services.leaderboard_flush()
        show("flush, contest changed (top N + broadcast)", timed(dirty_flush, 50))
        show("flush, nothing changed", timed(services.leaderboard_flush, 50))
        show(
            "  top N alone (leaderboard_top)",
            timed(lambda: selectors.leaderboard_top(contest_id=cid, limit=10), 200),
        )

        ids = [str(p.pk) for p in participants]
        for k in sorted({1000, n}):
            chosen = ids[:k]
            show(
                f"leaderboard_ranks, {k} ids",
                timed(
                    lambda chosen=chosen: selectors.leaderboard_ranks(
                        contest_id=cid, participant_ids=chosen
                    ),
                    20,
                ),
            )

        def final() -> None:
            with transaction.atomic():
                services.final_standings_write(contest_id=cid)
                transaction.set_rollback(True)

        show("final_standings_write (rolled back)", timed(final, 3))

        # The last question, open and past its deadline and grace: the transition that
        # closes it completes the contest in the same transaction (question_change, the
        # final standings, contest_end), as the clock runs it at that instant.
        Contest.objects.filter(pk=contest.pk).update(
            current_question_index=QUESTIONS,
            question_open=True,
            question_started_at=timezone.now() - timedelta(seconds=40),
            question_deadline=timezone.now() - timedelta(seconds=5),
        )

        def last_close() -> None:
            with transaction.atomic():
                lifecycle.contest_advance(contest_id=cid)
                completed = Contest.objects.get(pk=contest.pk).status
                assert completed == Contest.Status.COMPLETED, completed
                transaction.set_rollback(True)

        show("the last close: contest_advance to contest_end (rolled back)", timed(last_close, 3))

        def reopen_last() -> None:
            # A contest completes once: no standings of an earlier completion to delete.
            FinalStanding.objects.filter(contest_id=cid).delete()
            Contest.objects.filter(pk=contest.pk).update(
                status=Contest.Status.ACTIVE,
                ended_at=None,
                current_question_index=QUESTIONS,
                question_open=True,
                question_started_at=timezone.now() - timedelta(seconds=40),
                question_deadline=timezone.now() - timedelta(seconds=5),
            )

        def last_close_committed() -> float:
            # The same transition committed, as the clock runs it: the commit checks the
            # final standings' foreign keys (deferred), then its hooks publish contest_end.
            reopen_last()
            started = time.perf_counter()
            lifecycle.contest_advance(contest_id=cid)
            took = (time.perf_counter() - started) * 1000
            completed = Contest.objects.get(pk=contest.pk).status
            assert completed == Contest.Status.COMPLETED, completed
            return took

        show(
            "the last close, committed: to contest_end published",
            [last_close_committed() for _ in range(3)],
        )

        Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
        services.final_standings_write(contest_id=cid)
        show(
            "completed: leaderboard_top (FinalStanding)",
            timed(lambda: selectors.leaderboard_top(contest_id=cid, limit=10), 50),
        )
        show(
            f"completed: leaderboard_ranks, {n} ids (FinalStanding)",
            timed(lambda: selectors.leaderboard_ranks(contest_id=cid, participant_ids=ids), 10),
        )
    finally:
        live.drop(client, cid)
        contest.delete()
        User.objects.filter(username__startswith=f"lbbench-{run}-").delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    for n in args.participants:
        bench(n)


if __name__ == "__main__":
    main()
