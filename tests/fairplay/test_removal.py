"""Removing a participant: mid-question, their sockets on every web process close with
4003, they cannot come back, their answers stay but they leave the live board and the
final standings (listed as removed in standings.csv); by the API and the admin."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from contests.errors import ParticipantRemoved
from contests.models import Contest, Participant, Submission
from contests.services import (
    contest_end_now,
    contest_start,
    participant_register,
    participant_remove,
    question_skip,
    submission_create,
)
from core.redis import get_redis
from leaderboard import live
from leaderboard.models import FinalStanding
from leaderboard.selectors import leaderboard_top
from leaderboard.services import final_standings_write
from tests.conftest import client_for
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.fairplay.conftest import beat_flush, db, played, player_on
from tests.realtime.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


def remove_url(contest: Contest, participant_id: object) -> str:
    return f"/api/contests/{contest.pk}/participants/{participant_id}/remove/"


def post_remove(user, contest: Contest, participant_id: object):
    return client_for(user).post(remove_url(contest, participant_id))


def participant_of(contest: Contest, user) -> Participant:
    return Participant.objects.get(contest=contest, user=user)


@pytest.mark.e2e
def test_a_participant_removed_mid_question_is_out_everywhere(two_servers, organizer):
    contest = contest_with_questions(questions=2)
    q1 = played(contest)[0]
    ada, bob = UserFactory(display_name="Ada"), UserFactory(display_name="Bob")

    async def scenario():
        async with (
            player_on(two_servers[0], ada) as a,
            player_on(two_servers[0], bob) as b1,
            player_on(two_servers[1], bob) as b2,
        ):
            for p in (a, b1, b2):
                await p.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            await a.event("question_broadcast")
            await a.answer(contest, q1, "B")
            await b1.answer(contest, q1, "A")
            bob_id = (await db(participant_of)(contest, bob)).pk
            removed = await db(post_remove)(organizer, contest, bob_id)
            closes = [await b.close_frame() for b in (b1, b2)]
            async with player_on(two_servers[1], bob) as again:
                rejoin = await again.request("join_contest", {"contestId": str(contest.pk)})
            register = await db(
                lambda: client_for(bob).post(f"/api/contests/{contest.pk}/register/")
            )()
            await db(question_skip)(contest_id=contest.pk)
            change = await a.event("question_change")
            await db(beat_flush)()
            board = await a.event("leaderboard_update")
            await db(contest_end_now)(contest_id=contest.pk)
            end = await a.event("contest_end")
            return bob_id, removed, closes, rejoin, register, change, board, end

    bob_id, removed, closes, rejoin, register, change, board, end = run(scenario)
    assert removed.status_code == 200
    assert removed.json()["removed_at"] is not None
    assert closes == [(4003, "removed from contest")] * 2
    assert (rejoin["event"], rejoin["data"]["code"]) == ("error", "PARTICIPANT_REMOVED")
    assert (register.status_code, register.json()["code"]) == (403, "PARTICIPANT_REMOVED")
    # The question went on for the others; Bob's answer counts in its stats...
    assert change["data"]["stats"] == {"answered": 2, "correct": 1}
    assert Submission.objects.filter(participant_id=bob_id).count() == 1
    # ...but Bob, who had the only right answer, is on no board.
    assert [e["displayName"] for e in board["data"]["top"]] == ["Ada"]
    assert board["data"]["totalParticipants"] == 1
    assert [e["displayName"] for e in end["data"]["finalLeaderboard"]] == ["Ada"]
    assert end["data"]["totalParticipants"] == 1
    assert not FinalStanding.objects.filter(participant_id=bob_id).exists()
    rows = list(
        csv.DictReader(
            io.StringIO(
                client_for(organizer)
                .get(f"/api/contests/{contest.pk}/standings.csv")
                .content.decode()
            )
        )
    )
    assert [(r["rank"], r["display_name"], r["removed_at"] != "") for r in rows] == [
        ("1", "Ada", False),
        ("", "Bob", True),
    ]
    assert int(rows[1]["score"]) > 0


def test_only_organizers_may_remove_and_only_a_participant_of_that_contest(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    player, _ = participant_register(contest_id=contest.pk, user=participant)
    other = contest_with_questions(questions=1)
    organizer = UserFactory(is_staff=True, is_superuser=True)

    assert post_remove(participant, contest, player.pk).status_code == 403
    staff_without_permission = UserFactory(is_staff=True)
    assert post_remove(staff_without_permission, contest, player.pk).status_code == 403
    for contest_id, pid in (
        (contest.pk, uuid.uuid4()),
        (contest.pk, "nope"),
        (other.pk, player.pk),
    ):
        response = client_for(organizer).post(
            f"/api/contests/{contest_id}/participants/{pid}/remove/"
        )
        assert (response.status_code, response.json()["code"]) == (404, "PARTICIPANT_NOT_FOUND")
    first = post_remove(organizer, contest, player.pk).json()
    second = post_remove(organizer, contest, player.pk).json()
    assert first == second and first["removed_at"]


def test_removing_from_a_completed_contest_rewrites_its_final_standings():
    contest = open_question(contest_with_questions(questions=1), index=1)
    users = [UserFactory(display_name=n) for n in ("Ada", "Bob", "Cy")]
    participants = [participant_register(contest_id=contest.pk, user=u)[0] for u in users]
    for p, points in zip(participants, (300, 900, 100), strict=True):
        Submission.objects.create(
            participant=p,
            question=contest.ordered_questions()[0],
            answer="x",
            is_correct=True,
            points_awarded=points,
            response_time_ms=1000,
            received_at=contest.question_started_at,
        )
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
    final_standings_write(contest_id=contest.pk)

    participant_remove(contest_id=contest.pk, participant_id=participants[1].pk)

    standings = FinalStanding.objects.filter(contest=contest).order_by("rank")
    assert [(s.rank, s.participant.display_name) for s in standings] == [(1, "Ada"), (2, "Cy")]
    assert leaderboard_top(contest_id=contest.pk, limit=10)["totalParticipants"] == 2


def test_a_cancelled_contest_has_no_standings_to_remove_anyone_from(organizer):
    contest = contest_with_questions(questions=1, status=Contest.Status.CANCELLED)
    player = Participant.objects.create(contest=contest, user=UserFactory(), display_name="X")

    response = post_remove(organizer, contest, player.pk)

    assert (response.status_code, response.json()["code"]) == (409, "INVALID_TRANSITION")


def test_the_admin_removes_participants_with_a_list_action(admin_client):
    contest = open_question(contest_with_questions(questions=1), index=1)
    players = [participant_register(contest_id=contest.pk, user=UserFactory())[0] for _ in range(2)]

    response = admin_client.post(
        "/admin/contests/participant/",
        {"action": "remove_from_contest", "_selected_action": [str(players[0].pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert "removed." in response.content.decode()
    assert participant_of(contest, players[0].user).removed_at is not None
    assert participant_of(contest, players[1].user).removed_at is None
    # Off the live board at once.
    members = get_redis().hkeys(live.key(contest.pk, "member"))
    assert members == [str(players[1].pk)]
    listed = admin_client.get("/admin/contests/participant/?removed_at__isempty=0")
    assert players[0].display_name in listed.content.decode()


def test_a_removed_participant_cannot_answer_any_more():
    contest = open_question(contest_with_questions(questions=1), index=1)
    user = UserFactory()
    player, _ = participant_register(contest_id=contest.pk, user=user)
    participant_remove(contest_id=contest.pk, participant_id=player.pk)
    question = contest.ordered_questions()[0]

    with pytest.raises(ParticipantRemoved):
        submission_create(
            contest_id=contest.pk,
            question_id=question.pk,
            user=user,
            answer=str(question.choices.get(text="A").pk),
        )
    assert not Submission.objects.filter(participant=player).exists()
