"""contests.services.participant_register"""

import threading
import uuid

import pytest
from django.db import connection, transaction

from contests.errors import ContestClosed, ContestFull, ContestNotFound
from contests.models import Participant
from contests.services import contest_end_now, contest_start, participant_register
from leaderboard.models import FinalStanding
from tests.conftest import DatabaseThread
from tests.factories import ContestFactory, UserFactory, contest_with_questions


@pytest.mark.django_db
def test_it_registers_once_and_returns_the_same_participant_after(participant):
    contest = ContestFactory()

    first, created = participant_register(contest_id=contest.pk, user=participant)
    again, created_again = participant_register(
        contest_id=contest.pk, user=participant, display_name="Other"
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert again.display_name == "Player One"


@pytest.mark.django_db
def test_it_cuts_a_long_display_name_to_fifty_characters(participant):
    participant_obj, _ = participant_register(
        contest_id=ContestFactory().pk, user=participant, display_name="x" * 80
    )

    assert participant_obj.display_name == "x" * 50


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_it_refuses_a_contest_that_is_over(participant, status):
    with pytest.raises(ContestClosed):
        participant_register(contest_id=ContestFactory(status=status).pk, user=participant)


@pytest.mark.django_db
def test_it_refuses_an_unknown_contest(participant):
    with pytest.raises(ContestNotFound):
        participant_register(contest_id=uuid.uuid4(), user=participant)


@pytest.mark.django_db
def test_it_refuses_a_full_contest_but_not_someone_already_in_it(participant):
    contest = ContestFactory(max_participants=1)
    participant_register(contest_id=contest.pk, user=participant)

    with pytest.raises(ContestFull):
        participant_register(contest_id=contest.pk, user=UserFactory())
    assert participant_register(contest_id=contest.pk, user=participant)[1] is False


@pytest.mark.django_db(transaction=True)
def test_it_never_admits_more_than_the_maximum_under_concurrent_registrations():
    contest = ContestFactory(max_participants=5)
    users = UserFactory.create_batch(12)
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = []

    def register(user) -> None:
        try:
            barrier.wait(timeout=10)
            participant_register(contest_id=contest.pk, user=user)
            outcomes.append("registered")
        except ContestFull:
            outcomes.append("full")
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["full"] * 7 + ["registered"] * 5
    assert Participant.objects.filter(contest=contest).count() == 5


@pytest.mark.django_db(transaction=True)
def test_it_waits_for_a_completion_in_flight_and_then_refuses(participant):
    contest = contest_start(contest_id=contest_with_questions(questions=1).pk)
    early, _ = participant_register(contest_id=contest.pk, user=participant)
    late = DatabaseThread(lambda: participant_register(contest_id=contest.pk, user=UserFactory()))

    with transaction.atomic():
        contest_end_now(contest_id=contest.pk)
        # Read before the completion commits, the contest would still look active.
        late.start_until_blocked(table="contests_contest")

    with pytest.raises(ContestClosed):
        late.outcome()
    # Nobody is left without a final standing.
    assert list(Participant.objects.filter(contest=contest)) == [early]
    assert [s.participant_id for s in FinalStanding.objects.filter(contest=contest)] == [early.pk]
