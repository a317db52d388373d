"""manage.py seed_demo"""

import io

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import User
from contests.management.commands import seed_demo
from contests.management.commands.import_contest import import_document, read_document
from contests.models import Choice, Contest, Question
from contests.services import contest_start

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """seed_demo hashes and checks four passwords per run; PBKDF2 takes 0.25 s each here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> list:
    return [
        sorted(
            User.objects.values_list(
                "id", "username", "display_name", "is_staff", "is_superuser", "password"
            )
        ),
        sorted(Contest.objects.values_list("id", "title", "join_code", "status", "created_by")),
        sorted(Question.objects.values_list("id", "contest", "order", "type", "text")),
        sorted(Choice.objects.values_list("id", "question", "text", "is_correct")),
    ]


def test_it_creates_an_organizer_players_and_a_contest_of_every_question_type():
    output = seed()

    organizer = User.objects.get(username="organizer")
    assert organizer.is_staff and organizer.is_superuser
    assert User.objects.filter(is_staff=False).count() == 3
    contest = Contest.objects.get()
    assert contest.created_by == organizer
    assert contest.start_time is None
    assert contest.questions.count() >= 5
    assert set(contest.questions.values_list("type", flat=True)) == set(Question.Type.values)
    assert "organizer / run-the-show-42" in output
    assert contest.join_code in output and str(contest.pk) in output


def test_running_it_twice_gives_the_same_data():
    seed()
    first = snapshot()

    seed()

    assert snapshot() == first


def test_the_printed_credentials_log_in():
    seed()
    client = APIClient()

    for username, password in [
        ("organizer", seed_demo.ORGANIZER_PASSWORD),
        ("alice", seed_demo.PLAYER_PASSWORD),
    ]:
        response = client.post(
            "/api/auth/token/", {"username": username, "password": password}, format="json"
        )
        assert response.status_code == 200


def test_the_demo_passwords_pass_the_password_validators():
    validate_password(seed_demo.ORGANIZER_PASSWORD, User(username="organizer"))
    validate_password(seed_demo.PLAYER_PASSWORD, User(username="alice"))


def test_a_played_demo_contest_is_kept_and_followed_by_a_fresh_one_whose_start_hint_works():
    seed()
    played = Contest.objects.get()
    Contest.objects.filter(pk=played.pk).update(status="completed")

    output = seed()

    fresh = Contest.objects.exclude(pk=played.pk).get()
    assert fresh.status == "upcoming"
    assert Contest.objects.get(pk=played.pk).status == "completed"
    assert f"/api/contests/{fresh.pk}/start/" in output
    client = APIClient()
    client.force_authenticate(User.objects.get(username="organizer"))
    assert client.post(f"/api/contests/{fresh.pk}/start/").status_code == 200


def test_a_contest_imported_from_the_same_file_is_not_taken_for_the_demo():
    seed()
    demo = Contest.objects.get()
    organizer = User.objects.get(username="organizer")
    document = read_document(str(seed_demo.DEMO_CONTEST_FILE))
    imported = import_document(document, created_by=organizer)
    Contest.objects.filter(pk=imported.pk).update(status="completed")
    Contest.objects.filter(pk=demo.pk).update(created_at=imported.created_at.replace(year=2020))

    output = seed()

    assert Contest.objects.count() == 2
    assert str(demo.pk) in output and str(imported.pk) not in output


def test_a_demo_contest_being_played_gets_no_start_hint():
    seed()
    playing = contest_start(contest_id=Contest.objects.get().pk)

    output = seed()

    assert Contest.objects.get().pk == playing.pk
    assert "/start/" not in output and "being played" in output


def test_reset_replaces_a_played_demo_contest():
    seed()
    played = Contest.objects.get()
    Contest.objects.filter(pk=played.pk).update(status="completed")

    seed("--reset")

    fresh = Contest.objects.get()
    assert fresh.pk != played.pk
    assert fresh.status == "upcoming"


def test_reset_cancels_a_demo_contest_being_played_before_replacing_it(
    broadcasts, django_capture_on_commit_callbacks
):
    seed()
    playing = contest_start(contest_id=Contest.objects.get().pk)

    with django_capture_on_commit_callbacks(execute=True):
        seed("--reset")

    ends = [
        (contest, data["status"]) for contest, event, data in broadcasts if event == "contest_end"
    ]
    assert ends == [(str(playing.pk), "cancelled")]
    fresh = Contest.objects.get()
    assert fresh.pk != playing.pk
    assert fresh.status == "upcoming"
