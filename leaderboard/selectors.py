"""Leaderboard reads: the live board while a contest runs, FinalStanding once it completed.

Stores, by contest status and mode:
- completed: FinalStanding rows (written in the completing transaction);
- otherwise with REDIS_URL: the contest's sorted set (leaderboard.live), rebuilt from the
  database first when it is missing or partial;
- otherwise (embedded default): computed from the database with the same rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import Coalesce, RowNumber

from accounts.models import User
from contests.errors import ContestNotFound
from contests.models import Contest, Participant, Submission
from contests.selectors import live_board_rules
from core.redis import get_redis
from core.types import ContestId, ParticipantId, QuestionId, UserId
from leaderboard import live, ranking
from leaderboard.errors import StandingsNotFinal
from leaderboard.models import FinalStanding

T = TypeVar("T")

# From this many ids on, reading a contest's every final standing and filtering here is
# faster than an IN list of ids (bench/leaderboard.py: 10,000 ids, 35 ms against 180 ms).
MANY_IDS = 500

Board = dict[str, Any]
Ranks = dict[str, dict[str, int]]


def _totals_query(
    *,
    contest_id: ContestId,
    participant_id: ParticipantId | None = None,
    question_ids: Collection[str] | None = None,
    answered_question_id: QuestionId | None = None,
    removed: bool = False,
) -> QuerySet[Any]:  # annotated: django-stubs cannot name its extra fields
    """Participants annotated with their totals: score, total_ms, correct,
    submission_count (see totals_from_database)."""
    counted = Q() if question_ids is None else Q(submissions__question_id__in=question_ids)
    correct = counted & Q(submissions__is_correct=True)
    participants = Participant.objects.filter(contest_id=contest_id, removed_at__isnull=not removed)
    if participant_id is not None:
        participants = participants.filter(pk=participant_id)
    if answered_question_id is not None:
        answered = Submission.objects.filter(question_id=answered_question_id)
        participants = participants.filter(pk__in=answered.values("participant_id"))
    return participants.order_by().annotate(
        score=Coalesce(Sum("submissions__points_awarded", filter=counted), 0),
        total_ms=Coalesce(Sum("submissions__response_time_ms", filter=correct), 0),
        correct=Count("submissions", filter=correct),
        submission_count=Count("submissions", filter=counted),
    )


def totals_from_database(
    *,
    contest_id: ContestId,
    participant_id: ParticipantId | None = None,
    question_ids: Collection[str] | None = None,
    answered_question_id: QuestionId | None = None,
    removed: bool = False,
) -> list[ranking.Totals]:
    """Every participant's totals (or one participant's) in one query.

    `question_ids`: count only the answers to these questions (the live board's,
    contests.selectors.live_board_question_ids); None: every answer.
    `answered_question_id`: only the participants who answered that question.
    Participants an organizer removed are left out (they have no place on any board);
    `removed`: only them instead.
    """
    rows = _totals_query(
        contest_id=contest_id,
        participant_id=participant_id,
        question_ids=question_ids,
        answered_question_id=answered_question_id,
        removed=removed,
    ).values_list(
        "pk",
        "user_id",
        "display_name",
        "registered_at",
        "score",
        "total_ms",
        "correct",
        "submission_count",
    )
    return [
        ranking.Totals(
            participant_id=str(pk),
            user_id=str(user_id),
            display_name=name,
            registered_at=registered_at,
            score=score,
            total_response_ms=total_ms,
            correct_count=correct,
            submission_count=count,
        )
        for pk, user_id, name, registered_at, score, total_ms, correct, count in rows
    ]


def final_standings_query(*, contest_id: ContestId) -> tuple[str, tuple[Any, ...]]:
    """SQL (and its parameters) selecting every participant's final place: columns
    contest_id, participant_id, place, score, correct, total_ms. The ranking rule of
    leaderboard.ranking.sort_key, applied by the database so that the completing
    transaction writes 10,000 standings in one statement (tests/leaderboard check the
    two agree)."""
    ranked = _totals_query(contest_id=contest_id).annotate(
        place=Window(
            RowNumber(),
            order_by=[
                F("score").desc(),
                F("total_ms").asc(),
                F("registered_at").asc(),
                F("pk").asc(),
            ],
        )
    )
    columns = ranked.values("contest_id", "pk", "place", "score", "correct", "total_ms")
    sql, params = columns.query.sql_with_params()
    # By name: the order of a values() query's columns is Django's to choose.
    return (
        f"SELECT r.contest_id, r.pk, r.place, r.score, r.correct, r.total_ms FROM ({sql}) AS r",
        tuple(params),
    )


def standings_from_database(*, contest_id: ContestId) -> list[ranking.Standing]:
    """The whole ranking computed from every submission: the final standings."""
    return ranking.rank_all(totals_from_database(contest_id=contest_id))


def live_totals_from_database(
    *, contest_id: ContestId, participant_id: ParticipantId | None = None
) -> list[ranking.Totals]:
    """Totals as the live board counts them now: closed questions only when answers are
    revealed on close, none of the frozen zone (contests.models.Contest.live_board_through)."""
    return totals_from_database(
        contest_id=contest_id,
        participant_id=participant_id,
        question_ids=live_board_rules(contest_id=contest_id).counted_question_ids,
    )


def live_standings_from_database(*, contest_id: ContestId) -> list[ranking.Standing]:
    """The live board computed from the database (embedded mode): the source every live
    store derives from."""
    return ranking.rank_all(live_totals_from_database(contest_id=contest_id))


def _entry(*, rank: int, user_id: UserId, display_name: str, score: int) -> dict[str, Any]:
    return {"rank": rank, "userId": str(user_id), "displayName": display_name, "score": score}


def _status(contest_id: ContestId) -> str:
    status = Contest.objects.filter(pk=contest_id).values_list("status", flat=True).first()
    if status is None:
        raise ContestNotFound()
    return status


def live_rebuild(client: redis.Redis, contest_id: str, *, if_missing: bool) -> None:
    """Merge every participant's totals from the database into the live set."""
    live.rebuild(
        client,
        contest_id,
        lambda: live_totals_from_database(contest_id=contest_id),
        if_missing=if_missing,
    )


def _read_live(client: redis.Redis, contest_id: str, read: Callable[[], T]) -> T:
    """A read of the live set; a set Redis lost is rebuilt from the database first."""
    try:
        return read()
    except live.NotBuilt:
        live_rebuild(client, contest_id, if_missing=True)
        return read()


def live_top(*, contest_id: ContestId, limit: int) -> Board:
    """The running board, without the status check (the flush knows the contest is live)."""
    client = get_redis()
    if client is None:
        standings = live_standings_from_database(contest_id=contest_id)
        top = [
            _entry(
                rank=s.rank,
                user_id=s.totals.user_id,
                display_name=s.totals.display_name,
                score=s.totals.score,
            )
            for s in standings[:limit]
        ]
        return {"top": top, "totalParticipants": len(standings)}
    cid = str(contest_id)
    entries, total = _read_live(client, cid, lambda: live.top(client, cid, limit))
    top = [
        _entry(rank=e.rank, user_id=e.user_id, display_name=e.display_name, score=e.score)
        for e in entries
    ]
    return {"top": top, "totalParticipants": total}


def final_top(*, contest_id: ContestId, limit: int, total: int | None = None) -> Board:
    """The completed board from FinalStanding. `total`: the number of standings, if the
    caller just wrote them (the completing transaction: counting 10,000 rows it has just
    written took 15 ms of it)."""
    rows = FinalStanding.objects.filter(contest_id=contest_id).order_by("rank")
    top = [
        _entry(rank=rank, user_id=user_id, display_name=name, score=score)
        for rank, user_id, name, score in rows[:limit].values_list(
            "rank", "participant__user_id", "participant__display_name", "score"
        )
    ]
    return {"top": top, "totalParticipants": rows.count() if total is None else total}


def _board(contest_id: ContestId, status: str, limit: int) -> Board:
    if status == Contest.Status.COMPLETED:
        return final_top(contest_id=contest_id, limit=limit)
    if status == Contest.Status.CANCELLED:
        # A cancelled contest has no ranking (its contest_end shows none either).
        return {
            "top": [],
            "totalParticipants": _participant_count(contest_id),
        }
    try:
        return live_top(contest_id=contest_id, limit=limit)
    except live.NotBuilt:
        return _board(contest_id, _ended_since(contest_id, status), limit)


def _ended_since(contest_id: ContestId, status: str) -> str:
    """The status of a contest whose live set stayed unbuilt after a rebuild: it ended
    after the caller read `status` (the set is gone for good then), so its final board is
    the answer. Raises NotBuilt if it did not."""
    now = _status(contest_id)
    if now not in (Contest.Status.COMPLETED, Contest.Status.CANCELLED) or now == status:
        raise live.NotBuilt(str(contest_id))
    return now


def leaderboard_top(*, contest_id: ContestId, limit: int, status: str | None = None) -> Board:
    """{"top": [{rank, userId, displayName, score}], "totalParticipants"}. `status`: the
    contest's, if the caller has just read it (one query less)."""
    return _board(contest_id, status or _status(contest_id), limit)


def _ranks(contest_id: ContestId, status: str, participant_ids: list[str]) -> Ranks:
    if status == Contest.Status.CANCELLED:
        return {}
    if status == Contest.Status.COMPLETED:
        rows = FinalStanding.objects.filter(contest_id=contest_id)
        if len(participant_ids) < MANY_IDS:
            rows = rows.filter(participant_id__in=participant_ids)
        wanted = set(participant_ids)
        return {
            str(pid): {"rank": rank, "score": score}
            for pid, rank, score in rows.values_list("participant_id", "rank", "score")
            if str(pid) in wanted
        }
    client = get_redis()
    if client is None:
        wanted = set(participant_ids)
        return {
            s.totals.participant_id: {"rank": s.rank, "score": s.totals.score}
            for s in live_standings_from_database(contest_id=contest_id)
            if s.totals.participant_id in wanted
        }
    cid = str(contest_id)
    try:
        return _read_live(client, cid, lambda: live.ranks(client, cid, participant_ids))
    except live.NotBuilt:
        return _ranks(contest_id, _ended_since(contest_id, status), participant_ids)


def leaderboard_ranks(
    *, contest_id: ContestId, participant_ids: Iterable[ParticipantId], status: str | None = None
) -> Ranks:
    """{participant id: {"rank", "score"}} for those of the ids on the board: one Redis
    round trip (or one query) for any number of ids. `status`: as for leaderboard_top."""
    ids = [str(pid) for pid in participant_ids]
    if not ids:
        return {}
    return _ranks(contest_id, status or _status(contest_id), ids)


def leaderboard_live_ranks(
    *, contest_id: ContestId, participant_ids: Iterable[ParticipantId]
) -> Ranks | None:
    """The live ranks from Redis alone, with no database query: for the hub's
    leaderboard_update (sent only while the contest runs), so it never waits for a
    database thread. None without Redis or when the set must be rebuilt first: the caller
    then uses leaderboard_ranks."""
    client = get_redis()
    if client is None:
        return None
    ids = [str(pid) for pid in participant_ids]
    if not ids:
        return {}
    try:
        return live.ranks(client, str(contest_id), ids)
    except live.NotBuilt:
        return None


def _participant_count(contest_id: ContestId) -> int:
    return Participant.objects.filter(contest_id=contest_id, removed_at=None).count()


def sees_hidden_boards(user: User | None) -> bool:
    """Organizers who may view contests (the admin's permission) see a hidden board."""
    return user is not None and user.is_staff and user.has_perm("contests.view_contest")


def leaderboard_for_user(*, contest_id: ContestId, limit: int, user: User | None) -> Board:
    """The REST view: status, the rules' flags, the top `limit`, and the user's own rank
    if they play. A hidden board (leaderboard_visible false) shows others no entry and
    no rank until the contest completed; organizers see it (docs/LEADERBOARD.md)."""
    rules = live_board_rules(contest_id=contest_id)
    status = rules.status
    flags = {"frozen": rules.frozen, "visible": rules.visible}
    hidden = (
        not rules.visible
        and status in (Contest.Status.UPCOMING, Contest.Status.ACTIVE)
        and not sees_hidden_boards(user)
    )
    if hidden:
        board: Board = {"top": [], "totalParticipants": _participant_count(contest_id)}
        return {"contestId": str(contest_id), "status": status, **flags, **board, "you": None}
    board = _board(contest_id, status, limit)
    you = None
    if user is not None:
        pid = (
            Participant.objects.filter(contest_id=contest_id, user_id=user.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if pid is not None:
            you = _ranks(contest_id, status, [str(pid)]).get(str(pid))
    return {"contestId": str(contest_id), "status": status, **flags, **board, "you": you}


@dataclass(frozen=True)
class RemovedStanding:
    """A participant an organizer removed: no rank, their stored answers' totals."""

    participant: Participant
    totals: ranking.Totals


@dataclass(frozen=True)
class FinalStandings:
    ranked: list[FinalStanding]
    removed: list[RemovedStanding]


def final_standings(*, contest_id: ContestId) -> FinalStandings:
    """Every final standing in rank order, with participant and user loaded; then the
    participants removed from the contest, in registration order."""
    if _status(contest_id) != Contest.Status.COMPLETED:
        raise StandingsNotFinal()
    ranked = list(
        FinalStanding.objects.filter(contest_id=contest_id)
        .select_related("participant__user")
        .order_by("rank")
    )
    removed_totals = totals_from_database(contest_id=contest_id, removed=True)
    people = Participant.objects.select_related("user").in_bulk(
        [t.participant_id for t in removed_totals]
    )
    removed = [
        RemovedStanding(participant=people[uuid.UUID(t.participant_id)], totals=t)
        for t in sorted(removed_totals, key=lambda t: (t.registered_at, t.participant_id))
    ]
    return FinalStandings(ranked=ranked, removed=removed)


class _LeaderboardSource:
    """What realtime.outbound.personalize reads: see its LeaderboardSource."""

    def top(self, *, contest_id: ContestId, limit: int, status: str | None = None) -> Board:
        return leaderboard_top(contest_id=contest_id, limit=limit, status=status)

    def ranks(
        self,
        *,
        contest_id: ContestId,
        participant_ids: Iterable[ParticipantId],
        status: str | None = None,
    ) -> Ranks:
        return leaderboard_ranks(
            contest_id=contest_id, participant_ids=participant_ids, status=status
        )

    def live_ranks(
        self, *, contest_id: ContestId, participant_ids: Iterable[ParticipantId]
    ) -> Ranks | None:
        return leaderboard_live_ranks(contest_id=contest_id, participant_ids=participant_ids)


LEADERBOARD_SOURCE = _LeaderboardSource()
