"""The ranking rule and its Redis encoding, as plain functions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.validators import MaxValueValidator
from hypothesis import given
from hypothesis import strategies as st

from contests import grading
from contests.models import MAX_QUESTIONS_PER_CONTEST, Question
from leaderboard import ranking
from tests.leaderboard.conftest import T0, at, oracle_order


def totals(
    name: str,
    *,
    score: int = 0,
    ms: int = 0,
    registered_us: int = 0,
    participant_id: str | None = None,
) -> ranking.Totals:
    return ranking.Totals(
        participant_id=participant_id or str(uuid.uuid4()),
        user_id="1",
        display_name=name,
        registered_at=at(registered_us),
        score=score,
        total_response_ms=ms,
        correct_count=0,
        submission_count=0,
    )


def names_in_rank_order(everyone: list[ranking.Totals]) -> list[str]:
    return [s.totals.display_name for s in ranking.rank_all(everyone)]


def redis_order(everyone: list[ranking.Totals]) -> list[str]:
    """The order a sorted set gives: by value, then bytewise by member."""
    encoded = sorted(
        (
            ranking.sort_value(score=t.score, total_response_ms=t.total_response_ms),
            ranking.member(registered_at=t.registered_at, participant_id=t.participant_id),
            t.display_name,
        )
        for t in everyone
    )
    return [name for _, _, name in encoded]


def test_it_ranks_a_higher_score_first():
    everyone = [totals("low", score=100, ms=1), totals("high", score=900, ms=50_000)]

    assert names_in_rank_order(everyone) == ["high", "low"]


def test_it_breaks_a_tie_on_score_by_lower_total_response_time():
    everyone = [
        totals("slow", score=500, ms=9000, registered_us=0),
        totals("fast", score=500, ms=3000, registered_us=5),
    ]

    assert names_in_rank_order(everyone) == ["fast", "slow"]


def test_it_breaks_a_tie_on_score_and_time_by_earlier_registration():
    everyone = [
        totals("later", score=500, ms=3000, registered_us=2),
        totals("earlier", score=500, ms=3000, registered_us=1),
    ]

    assert names_in_rank_order(everyone) == ["earlier", "later"]


def test_it_breaks_a_full_tie_by_participant_id():
    everyone = [
        totals("b", score=1, ms=1, participant_id="bbbbbbbb-0000-0000-0000-000000000000"),
        totals("a", score=1, ms=1, participant_id="aaaaaaaa-0000-0000-0000-000000000000"),
    ]

    assert names_in_rank_order(everyone) == ["a", "b"]


def test_it_gives_dense_ranks_from_one_even_to_equal_scores():
    everyone = [totals(f"p{i}", registered_us=i) for i in range(4)]

    assert [s.rank for s in ranking.rank_all(everyone)] == [1, 2, 3, 4]


def test_redis_breaks_ties_like_the_rule():
    everyone = [
        totals("a", score=500, ms=3000, registered_us=10),
        totals("b", score=500, ms=3000, registered_us=9),
        totals("c", score=500, ms=2999, registered_us=11),
        totals("d", score=501, ms=99_999, registered_us=12),
        totals("e", score=0, ms=0, registered_us=0),
    ]

    assert redis_order(everyone) == names_in_rank_order(everyone) == ["d", "c", "b", "a", "e"]


def test_it_encodes_the_extremes_exactly_and_in_order():
    best = ranking.sort_value(score=ranking.MAX_SCORE, total_response_ms=0)
    worst = ranking.sort_value(score=0, total_response_ms=ranking.MAX_TOTAL_RESPONSE_MS)
    next_to_worst = ranking.sort_value(score=0, total_response_ms=ranking.MAX_TOTAL_RESPONSE_MS - 1)

    assert best == 0
    assert worst == (ranking.MAX_SCORE + 1) * ranking.TIME_SLOTS - 1 < 2**53
    # A double keeps them apart: no two states collapse into one value.
    assert float(worst) != float(next_to_worst)
    assert int(float(worst)) == worst
    assert ranking.score_from_sort_value(float(worst)) == 0
    assert ranking.score_from_sort_value(str(float(best))) == ranking.MAX_SCORE


def test_it_refuses_totals_outside_the_encoding():
    with pytest.raises(ValueError):
        ranking.sort_value(score=ranking.MAX_SCORE + 1, total_response_ms=0)
    with pytest.raises(ValueError):
        ranking.sort_value(score=0, total_response_ms=ranking.MAX_TOTAL_RESPONSE_MS + 1)
    with pytest.raises(ValueError):
        ranking.sort_value(score=-1, total_response_ms=0)


def test_its_bounds_match_the_models_and_settings():
    def max_validator(field: str) -> int:
        validators = Question._meta.get_field(field).validators
        return next(v.limit_value for v in validators if isinstance(v, MaxValueValidator))

    assert max_validator("points") == ranking.MAX_QUESTION_POINTS
    assert max_validator("time_limit_seconds") == ranking.MAX_TIME_LIMIT_SECONDS
    assert settings.SUBMISSION_GRACE_MS <= ranking.MAX_GRACE_MS
    # Every question at its most, plus the streak bonus's most on each.
    assert ranking.MAX_SCORE == MAX_QUESTIONS_PER_CONTEST * (10_000 + 500) == 1_050_000
    assert grading.streak_bonus_for(10**6) == 500
    # 21 bits of score and 32 of time fill a double's 53-bit mantissa exactly.
    assert (ranking.MAX_SCORE + 1).bit_length() == 21
    assert ranking.TIME_SLOTS == 2**32
    assert ranking.RULE_MAX_TOTAL_RESPONSE_MS == 61_000_000 < ranking.TIME_SLOTS


def test_member_keeps_registration_order_bytewise_and_names_the_participant():
    pid = str(uuid.uuid4())
    early = ranking.member(registered_at=T0, participant_id=pid)
    late = ranking.member(registered_at=T0 + timedelta(days=365 * 900), participant_id=pid)

    assert early < late
    assert len(early) == len(late)
    assert ranking.participant_id_from_member(early) == pid


@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, 500, 999_999, ranking.MAX_SCORE]),
            st.sampled_from([0, 1, 3000, ranking.RULE_MAX_TOTAL_RESPONSE_MS]),
            st.integers(min_value=0, max_value=3),
            st.uuids(),
        ),
        max_size=30,
        unique_by=lambda row: row[3],
    )
)
def test_the_redis_encoding_orders_exactly_like_the_rule(rows):
    everyone = [
        totals(f"p{i}", score=s, ms=ms, registered_us=reg, participant_id=str(pid))
        for i, (s, ms, reg, pid) in enumerate(rows)
    ]
    name_of = {t.participant_id: t.display_name for t in everyone}
    expected = [name_of[pid] for pid in oracle_order(everyone)]

    assert names_in_rank_order(everyone) == expected
    assert redis_order(everyone) == expected
