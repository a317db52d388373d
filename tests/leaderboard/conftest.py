"""Building leaderboards in tests: participants at chosen instants, answers with chosen
points and times, and reading what the flush broadcast from the contest's event log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contests.models import Contest, Participant, Question, Submission
from core.redis import get_redis, redis_key
from leaderboard import live, ranking, selectors, services
from realtime.outbound import broadcast
from tests.factories import (
    ContestFactory,
    ParticipantFactory,
    QuestionFactory,
    SubmissionFactory,
    UserFactory,
)

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def at(microseconds: int) -> datetime:
    return T0 + timedelta(microseconds=microseconds)


def active_contest(*, questions: int = 3, points: int = 1000) -> Contest:
    """A running contest whose live set is built (empty), as after its first read. Its
    answers are revealed at once, so every answer counts on the live board as soon as
    it is recorded (test_fair_play.py has the rules that hold some back)."""
    contest = ContestFactory(
        status=Contest.Status.ACTIVE,
        current_question_index=1,
        answer_reveal=Contest.AnswerReveal.IMMEDIATE,
    )
    for i in range(questions):
        QuestionFactory(contest=contest, order=i + 1, points=points)
    services.leaderboard_rebuild(contest_id=contest.pk)
    return contest


def join(contest: Contest, name: str, *, registered_at: datetime | None = None) -> Participant:
    """A participant registered at `registered_at`, recorded as registration does."""
    participant = ParticipantFactory(
        contest=contest,
        user=UserFactory(display_name=name),
        display_name=name,
        registered_at=registered_at or T0,
    )
    services.leaderboard_record(contest_id=contest.pk, participant_id=participant.pk)
    return participant


def answer(
    participant: Participant,
    question: Question,
    *,
    points: int = 0,
    ms: int = 1000,
    correct: bool | None = None,
    record: bool = True,
) -> Submission:
    """A stored answer, recorded as submission_create does on commit (unless the test
    delivers the leaderboard updates itself)."""
    submission = SubmissionFactory(
        participant=participant,
        question=question,
        answer="any",
        is_correct=points > 0 if correct is None else correct,
        points_awarded=points,
        response_time_ms=ms,
    )
    if record:
        services.leaderboard_record(
            contest_id=participant.contest_id, participant_id=participant.pk
        )
    return submission


def database_order(contest: Contest) -> list[tuple[int, str, int]]:
    """(rank, participant id, score) computed from the database."""
    return [
        (s.rank, s.totals.participant_id, s.totals.score)
        for s in selectors.standings_from_database(contest_id=contest.pk)
    ]


def redis_order(contest: Contest) -> list[tuple[int, str, int]]:
    """(rank, participant id, score) as the sorted set lists them (never rebuilt here:
    raises live.NotBuilt if the set is not built)."""
    entries, _ = live.top(get_redis(), str(contest.pk), 1_000_000)
    return [(e.rank, e.participant_id, e.score) for e in entries]


def final_order(contest: Contest) -> list[tuple[int, str, int]]:
    from leaderboard.models import FinalStanding

    return [
        (rank, str(pid), score)
        for rank, pid, score in FinalStanding.objects.filter(contest=contest)
        .order_by("rank")
        .values_list("rank", "participant_id", "score")
    ]


def oracle_order(totals: list[ranking.Totals]) -> list[str]:
    """The rule as the issue states it, written out independently of leaderboard.ranking."""
    return [
        t.participant_id
        for t in sorted(
            totals,
            key=lambda t: (-t.score, t.total_response_ms, t.registered_at, t.participant_id),
        )
    ]


class RoomLog:
    """Room events of one contest from its event log (what every socket receives)."""

    def __init__(self, contest: Contest) -> None:
        self.contest_id = contest.pk
        self.seq, self.epoch = broadcast.event_log_position(self.contest_id)

    def new_events(self) -> list[dict[str, Any]]:
        """Events logged since the last call (from seq 0 of a new epoch if Redis lost it)."""
        texts = broadcast.event_log_since(self.contest_id, self.epoch, self.seq)
        if texts is None:
            _, self.epoch = broadcast.event_log_position(self.contest_id)
            self.seq = 0
            texts = broadcast.event_log_since(self.contest_id, self.epoch, 0)
        events = [json.loads(t) for t in texts]
        if events:
            self.seq = events[-1]["seq"]
        return events

    def new_updates(self) -> list[dict[str, Any]]:
        return [e["data"] for e in self.new_events() if e["event"] == "leaderboard_update"]


@pytest.fixture
def redis_client():
    client = get_redis()
    assert client is not None, "the tests run against Redis (REDIS_URL)"
    return client


def an_interval_passes() -> None:
    """Forget every contest's last broadcast turn, as LEADERBOARD_INTERVAL_SECONDS would."""
    client = get_redis()
    if client is not None:
        for key in client.scan_iter(redis_key("lb", "*", "sent")):
            client.delete(key)


@pytest.fixture
def flush(django_capture_on_commit_callbacks):
    """One beat's leaderboard_flush, an interval after the last one, then what it queued
    for after its commit (its room events, from the outbox), as a real commit would;
    inside the test's transaction."""

    def run() -> None:
        an_interval_passes()
        with django_capture_on_commit_callbacks(execute=True):
            services.leaderboard_flush()

    return run
