from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contests.errors import (
    ContestNotActive,
    ContestNotFound,
    DuplicateSubmission,
    InvalidAnswer,
    NotRegistered,
    QuestionClosed,
    QuestionNotFound,
)
from contests.models import Contest, Submission
from contests.services import participant_register, submission_create
from core.errors import ServiceUnavailable
from tests.factories import contest_with_questions, open_question

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_contest(participant) -> Contest:
    """Question 1 open; grades revealed at once (the reply carries the total)."""
    contest = contest_with_questions(questions=2, answer_reveal=Contest.AnswerReveal.IMMEDIATE)
    participant_register(contest_id=contest.pk, user=participant)
    return open_question(contest, index=1)


def choice_id(contest: Contest, index: int, text: str) -> str:
    question = contest.ordered_questions()[index - 1]
    return str(question.choices.get(text=text).id)


def submit(contest: Contest, user, answer, *, index: int = 1):
    question = contest.ordered_questions()[index - 1]
    return submission_create(
        contest_id=contest.pk, question_id=question.pk, user=user, answer=answer
    )


def test_it_stores_a_correct_answer_with_its_points(live_contest, participant):
    outcome = submit(live_contest, participant, choice_id(live_contest, 1, "A"))

    stored = Submission.objects.get(pk=outcome.submission.pk)
    assert stored.is_correct is True
    assert stored.points_awarded == outcome.submission.points_awarded > 0
    assert outcome.total_score == stored.points_awarded
    assert stored.answer == choice_id(live_contest, 1, "A")


def test_it_stores_a_wrong_answer_with_zero_points(live_contest, participant):
    outcome = submit(live_contest, participant, choice_id(live_contest, 1, "B"))

    assert outcome.submission.is_correct is False
    assert outcome.submission.points_awarded == 0
    assert Submission.objects.count() == 1


def test_it_measures_response_time_from_the_stored_question_start(live_contest, participant):
    open_question(live_contest, started_at=timezone.now() - timedelta(seconds=4))

    outcome = submit(live_contest, participant, choice_id(live_contest, 1, "A"))

    assert 4000 <= outcome.submission.response_time_ms < 6000
    # Speed scoring: 1000 * (1 - (t / 10 s) / 2) for t in [4 s, 6 s).
    assert 700 <= outcome.submission.points_awarded <= 800


def test_it_rejects_a_late_submission(live_contest, participant, settings):
    settings.SUBMISSION_GRACE_MS = 500
    open_question(live_contest, started_at=timezone.now() - timedelta(seconds=11))

    with pytest.raises(QuestionClosed):
        submit(live_contest, participant, choice_id(live_contest, 1, "A"))
    assert Submission.objects.count() == 0


def test_it_accepts_an_answer_inside_the_grace_period(live_contest, participant, settings):
    settings.SUBMISSION_GRACE_MS = 2000
    open_question(live_contest, started_at=timezone.now() - timedelta(seconds=10, milliseconds=500))

    outcome = submit(live_contest, participant, choice_id(live_contest, 1, "A"))

    assert outcome.submission.response_time_ms >= 10_000
    assert outcome.submission.points_awarded == 500


def test_it_times_an_answer_sent_during_a_pause_at_the_moment_of_the_pause(
    live_contest, participant
):
    started = timezone.now() - timedelta(seconds=30)
    open_question(live_contest, started_at=started)
    Contest.objects.filter(pk=live_contest.pk).update(paused_at=started + timedelta(seconds=2))

    outcome = submit(live_contest, participant, choice_id(live_contest, 1, "A"))

    assert outcome.submission.response_time_ms == 2000


def test_it_rejects_a_second_answer_to_the_same_question(live_contest, participant):
    submit(live_contest, participant, choice_id(live_contest, 1, "B"))

    with pytest.raises(DuplicateSubmission):
        submit(live_contest, participant, choice_id(live_contest, 1, "A"))
    assert Submission.objects.get().is_correct is False


def test_it_rejects_an_unregistered_user(live_contest, outsider):
    with pytest.raises(NotRegistered):
        submit(live_contest, outsider, choice_id(live_contest, 1, "A"))


def test_it_rejects_an_answer_to_a_contest_that_is_not_running(participant):
    contest = contest_with_questions(questions=1)
    participant_register(contest_id=contest.pk, user=participant)

    with pytest.raises(ContestNotActive):
        submit(contest, participant, choice_id(contest, 1, "A"))


def test_it_rejects_an_unknown_contest(participant):
    with pytest.raises(ContestNotFound):
        submission_create(
            contest_id=uuid.uuid4(), question_id=uuid.uuid4(), user=participant, answer="x"
        )


def test_it_rejects_a_question_of_another_contest(live_contest, participant):
    other = contest_with_questions(questions=1)

    with pytest.raises(QuestionNotFound):
        submission_create(
            contest_id=live_contest.pk,
            question_id=other.ordered_questions()[0].pk,
            user=participant,
            answer="x",
        )


def test_it_rejects_an_answer_to_a_question_that_is_not_current(live_contest, participant):
    with pytest.raises(QuestionClosed):
        submit(live_contest, participant, choice_id(live_contest, 2, "A"), index=2)


def test_it_rejects_an_answer_after_the_question_closed(live_contest, participant):
    Contest.objects.filter(pk=live_contest.pk).update(question_open=False)

    with pytest.raises(QuestionClosed):
        submit(live_contest, participant, choice_id(live_contest, 1, "A"))


def test_it_rejects_an_answer_of_the_wrong_shape_and_stores_nothing(live_contest, participant):
    with pytest.raises(InvalidAnswer):
        submit(live_contest, participant, ["not", "a", "choice"])
    assert Submission.objects.count() == 0


def test_a_rejected_answer_does_not_use_up_the_question(live_contest, participant):
    with pytest.raises(InvalidAnswer):
        submit(live_contest, participant, "nonsense")

    outcome = submit(live_contest, participant, choice_id(live_contest, 1, "A"))
    assert outcome.submission.is_correct is True


@pytest.mark.django_db(transaction=True)
def test_the_same_user_submitting_twice_at_once_gets_exactly_one_accepted(participant):
    contest = contest_with_questions(questions=1)
    participant_register(contest_id=contest.pk, user=participant)
    open_question(contest)
    answer = choice_id(contest, 1, "A")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            submit(contest, participant, answer)
            results.append("accepted")
        except DuplicateSubmission:
            results.append("duplicate")
        finally:
            connection.close()

    for _ in range(10):
        Submission.objects.all().delete()
        results.clear()
        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(results) == ["accepted", "duplicate"]
        assert Submission.objects.count() == 1


def test_a_pause_after_the_deadline_does_not_reopen_the_question(live_contest, participant):
    # The tick has not closed the question yet when the organizer pauses, 2 s too late.
    started = timezone.now() - timedelta(seconds=13)
    open_question(live_contest, started_at=started)
    Contest.objects.filter(pk=live_contest.pk).update(paused_at=started + timedelta(seconds=12))

    with pytest.raises(QuestionClosed):
        submit(live_contest, participant, choice_id(live_contest, 1, "A"))
    assert Submission.objects.count() == 0


def submit_received(contest: Contest, user, answer, *, seconds_ago: float):
    """An answer that reached the server `seconds_ago` and is judged only now (it waited
    for the database meanwhile)."""
    question = contest.ordered_questions()[0]
    return submission_create(
        contest_id=contest.pk,
        question_id=question.pk,
        user=user,
        answer=answer,
        received=time.monotonic() - seconds_ago,
    )


def test_an_answer_is_judged_by_its_arrival_not_by_when_it_is_stored(
    live_contest, participant, settings
):
    settings.SUBMISSION_GRACE_MS = 500
    # The deadline passed 5 s ago; the answer arrived 6 s ago, 1 s before it.
    open_question(live_contest, started_at=timezone.now() - timedelta(seconds=15))

    outcome = submit_received(
        live_contest, participant, choice_id(live_contest, 1, "A"), seconds_ago=6
    )

    assert 8_900 <= outcome.submission.response_time_ms <= 9_500
    stored = Submission.objects.get(pk=outcome.submission.pk)
    assert stored.received_at <= live_contest.question_deadline


def test_an_answer_that_arrived_while_open_and_waited_past_the_close_may_be_sent_again(
    live_contest, participant
):
    closed_at = timezone.now() - timedelta(seconds=1)
    Contest.objects.filter(pk=live_contest.pk).update(
        question_open=False, question_closed_at=closed_at
    )

    with pytest.raises(ServiceUnavailable):
        submit_received(live_contest, participant, choice_id(live_contest, 1, "A"), seconds_ago=3)
    with pytest.raises(QuestionClosed):
        submit_received(live_contest, participant, choice_id(live_contest, 1, "A"), seconds_ago=0.5)
    assert Submission.objects.count() == 0


def test_an_answer_that_arrived_before_the_contest_ended_is_not_told_it_is_over(
    live_contest, participant
):
    Contest.objects.filter(pk=live_contest.pk).update(
        status=Contest.Status.COMPLETED,
        question_open=False,
        ended_at=timezone.now() - timedelta(seconds=1),
    )

    with pytest.raises(ServiceUnavailable):
        submit_received(live_contest, participant, choice_id(live_contest, 1, "A"), seconds_ago=3)
    with pytest.raises(ContestNotActive):
        submit_received(live_contest, participant, choice_id(live_contest, 1, "A"), seconds_ago=0.1)
