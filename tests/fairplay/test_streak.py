"""The streak bonus (Kahoot's rule, speed scoring only): +100 x (streak - 1) for a
correct answer that extends a streak, at most +500; a wrong or missing answer resets it.
Every total here is computed by hand: each question is worth 1000 and every answer is
timed at 0 ms (the question "started" in the future), so it earns its full points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contests import grading
from contests.models import Contest, Submission
from contests.services import participant_register, question_skip, submission_create
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.fairplay.conftest import db, played, player_on
from tests.realtime.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


def open_at_zero_ms(contest: Contest, index: int) -> None:
    open_question(contest, index=index, started_at=timezone.now() + timedelta(seconds=30))


@pytest.mark.parametrize(
    ("streak", "bonus"),
    [(0, 0), (1, 0), (2, 100), (3, 200), (5, 400), (6, 500), (7, 500), (40, 500)],
)
def test_the_bonus_of_a_streak(streak, bonus):
    assert grading.streak_bonus_for(streak) == bonus


def test_streaks_and_totals_over_eight_questions_match_the_hand_computed_ones():
    contest = contest_with_questions(questions=8, streak_bonus=True)
    # Per question: A right, B wrong, None: no answer.
    plans = {
        "Ada": "AAAAAAAA",
        "Bob": "AABAAAAA",
        "Cy": "-AAA-AAA",
    }
    users = {name: UserFactory(display_name=name) for name in plans}
    for user in users.values():
        participant_register(contest_id=contest.pk, user=user)
    for index, question in enumerate(contest.ordered_questions(), start=1):
        open_at_zero_ms(contest, index)
        for name, plan in plans.items():
            pick = plan[index - 1]
            if pick != "-":
                submission_create(
                    contest_id=contest.pk,
                    question_id=question.pk,
                    user=users[name],
                    answer=str(question.choices.get(text=pick).pk),
                )

    def mine(name):
        return list(
            Submission.objects.filter(participant__user=users[name])
            .order_by("question__order")
            .values_list("streak", "points_awarded")
        )

    # Ada: 1000 + 1100 + 1200 + 1300 + 1400 + 1500 + 1500 + 1500
    assert mine("Ada") == [
        (1, 1000),
        (2, 1100),
        (3, 1200),
        (4, 1300),
        (5, 1400),
        (6, 1500),
        (7, 1500),
        (8, 1500),
    ]
    assert sum(p for _, p in mine("Ada")) == 10_500
    # Bob: a wrong third answer resets it.
    assert mine("Bob") == [
        (1, 1000),
        (2, 1100),
        (0, 0),
        (1, 1000),
        (2, 1100),
        (3, 1200),
        (4, 1300),
        (5, 1400),
    ]
    assert sum(p for _, p in mine("Bob")) == 8_100
    # Cy: no answer to questions 1 and 5; a missing answer resets it too.
    assert mine("Cy") == [(1, 1000), (2, 1100), (3, 1200), (1, 1000), (2, 1100), (3, 1200)]
    assert sum(p for _, p in mine("Cy")) == 6_600


def test_without_the_bonus_streaks_are_counted_but_score_nothing():
    contest = contest_with_questions(questions=2)
    user = UserFactory()
    participant_register(contest_id=contest.pk, user=user)
    for index, question in enumerate(contest.ordered_questions(), start=1):
        open_at_zero_ms(contest, index)
        submission_create(
            contest_id=contest.pk,
            question_id=question.pk,
            user=user,
            answer=str(question.choices.get(text="A").pk),
        )

    assert list(
        Submission.objects.order_by("question__order").values_list("streak", "points_awarded")
    ) == [
        (1, 1000),
        (2, 1000),
    ]


def test_the_bonus_needs_speed_scoring():
    from django.core.exceptions import ValidationError

    from contests.services import contest_create

    with pytest.raises(ValidationError) as raised:
        contest_create(
            data={"title": "Fixed", "scoring_mode": "fixed", "streak_bonus": True},
            created_by=None,
        )
    assert list(raised.value.message_dict) == ["streak_bonus"]


@pytest.mark.e2e
def test_players_see_their_streak_and_its_points_when_each_question_closes(web_server):
    contest = contest_with_questions(questions=3, streak_bonus=True)
    questions = played(contest)
    ada, bob = UserFactory(display_name="Ada"), UserFactory(display_name="Bob")

    async def scenario():
        async with player_on(web_server, ada) as a, player_on(web_server, bob) as b:
            await a.join(contest)
            await b.join(contest)
            results = []
            for index, (question, picks) in enumerate(
                zip(questions, ("AA", "AB", "AA"), strict=True), 1
            ):
                await db(open_at_zero_ms)(contest, index)
                for player, pick in zip((a, b), picks, strict=True):
                    reply = await player.answer(contest, question, pick)
                    assert reply["data"]["pointsAwarded"] is None  # revealed on close
                await db(question_skip)(contest_id=contest.pk)
                results.append(
                    [(await p.event("question_change"))["data"]["yourResult"] for p in (a, b)]
                )
            return results

    results = run(scenario)
    ada_seen = [(r[0]["streak"], r[0]["pointsAwarded"], r[0]["totalScore"]) for r in results]
    bob_seen = [(r[1]["streak"], r[1]["pointsAwarded"], r[1]["totalScore"]) for r in results]
    assert ada_seen == [(1, 1000, 1000), (2, 1100, 2100), (3, 1200, 3300)]
    assert bob_seen == [(1, 1000, 1000), (0, 0, 1000), (1, 1000, 2000)]
