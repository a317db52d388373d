"""The ranking rule, defined once, and its encoding for the Redis sorted set.

Rule: higher total score first; equal scores → lower total response time of correct
answers first; still equal → earlier registration (Participant.registered_at, to the
microsecond); still equal → smaller participant id (a UUID compared as its canonical
string, which is the order PostgreSQL gives UUIDs too). Ranks are 1-based and dense in
that order: no two participants share a rank.

Every store applies it through this module: `sort_key` for standings computed from the
database (embedded mode, Redis rebuilds, FinalStanding), and `sort_value` + `member` for
Redis, where a sorted set orders by a float score and breaks ties by comparing members
bytewise. The encoding is "smaller is better" on both parts, so ZRANGE lists the
leaderboard from first place and ZRANK + 1 is a participant's rank:

    sort value = (MAX_SCORE - score) * TIME_SLOTS + total_response_ms   (an integer < 2**53)
    member     = "<registered_at in µs since 1970, 17 digits>:<participant uuid>"

(With ZREVRANGE instead, equal values would list in descending member order, so the
registration stamp would have to be complemented; ascending keeps both parts plain.)

Bit budget of the sort value: a double holds every integer up to 2**53 exactly. The score
is at most MAX_QUESTIONS_PER_CONTEST (100) questions x (10,000 points + the 500 of the
streak bonus) = 1,050,000, which takes 21 bits (1,050,001 values); TIME_SLOTS = 2**32
uses the remaining 32. The rule's own bound on the time is 100 questions x (600 s limit +
10 s maximum grace) = 61,000,000 ms (26 bits); the spare 6 bits keep the encoding exact
even for answers timed beyond the deadline (for example around a pause), up to 11 hours
per question. Registration order cannot fit as well, hence the member string.
(Before the streak bonus the split was 20 + 33 bits; the live keys moved to a new name
with it, leaderboard.live.KEY_SPACE, so a set written with the old split is never read.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contests.grading import STREAK_BONUS_MAX
from contests.models import MAX_QUESTIONS_PER_CONTEST

# Mirrors the validators and constraints on Question.points and time_limit_seconds and
# the bound on settings.SUBMISSION_GRACE_MS (tests/leaderboard/test_ranking.py checks).
MAX_QUESTION_POINTS = 10_000
MAX_TIME_LIMIT_SECONDS = 600
MAX_GRACE_MS = 10_000

MAX_SCORE = MAX_QUESTIONS_PER_CONTEST * (MAX_QUESTION_POINTS + STREAK_BONUS_MAX)
RULE_MAX_TOTAL_RESPONSE_MS = MAX_QUESTIONS_PER_CONTEST * (
    MAX_TIME_LIMIT_SECONDS * 1000 + MAX_GRACE_MS
)
TIME_SLOTS = 2**32
MAX_TOTAL_RESPONSE_MS = TIME_SLOTS - 1
EXACT_INTEGER_LIMIT = 2**53

assert (MAX_SCORE + 1) * TIME_SLOTS <= EXACT_INTEGER_LIMIT
assert RULE_MAX_TOTAL_RESPONSE_MS <= MAX_TOTAL_RESPONSE_MS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STAMP_DIGITS = 17


@dataclass(frozen=True, slots=True)
class Totals:
    """One participant's totals, computed from the database.

    `submission_count` only grows (submissions are never changed or deleted), so it
    versions the totals: of two computations, the one with more submissions is newer,
    and two with the same count are equal.
    """

    participant_id: str
    user_id: str
    display_name: str
    registered_at: datetime
    score: int
    total_response_ms: int
    correct_count: int
    submission_count: int


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    totals: Totals


def sort_key(totals: Totals) -> tuple[int, int, datetime, str]:
    return (-totals.score, totals.total_response_ms, totals.registered_at, totals.participant_id)


def rank_all(totals: Iterable[Totals]) -> list[Standing]:
    """Everyone in ranking order with their 1-based dense rank."""
    ordered = sorted(totals, key=sort_key)
    return [Standing(rank=i, totals=t) for i, t in enumerate(ordered, start=1)]


def sort_value(*, score: int, total_response_ms: int) -> int:
    """The Redis score: smaller ranks first. An int below 2**53, so exact as a double."""
    if not 0 <= score <= MAX_SCORE:
        raise ValueError(f"score {score} is outside 0..{MAX_SCORE}")
    if not 0 <= total_response_ms <= MAX_TOTAL_RESPONSE_MS:
        raise ValueError(f"total response time {total_response_ms} ms is outside the encoding")
    return (MAX_SCORE - score) * TIME_SLOTS + total_response_ms


def score_from_sort_value(value: float | str) -> int:
    return MAX_SCORE - int(float(value)) // TIME_SLOTS


def member(*, registered_at: datetime, participant_id: str) -> str:
    """The sorted-set member: equal sort values order by it, so it leads with the
    registration instant as fixed-width digits (bytewise order = time order)."""
    stamp = (registered_at - _EPOCH) // _MICROSECOND
    return f"{stamp:0{_STAMP_DIGITS}d}:{participant_id}"


def participant_id_from_member(value: str) -> str:
    return value[_STAMP_DIGITS + 1 :]
