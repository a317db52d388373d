"""manage.py createorganizer: an organizer can do what an organizer does, in the admin and
the API, and nothing more."""

from __future__ import annotations

import io
import subprocess

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import ORGANIZER_PERMISSIONS, ORGANIZERS_GROUP
from tests.conftest import client_for
from tests.factories import UserFactory, contest_document
from tests.servers import BIN, ROOT, child_env

pytestmark = pytest.mark.django_db

PASSWORD = "run-the-contest-7"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def create(*args: str) -> str:
    out = io.StringIO()
    call_command("createorganizer", *args, stdout=out)
    return out.getvalue()


def organizer_created(username: str = "olga") -> User:
    create("--username", username, "--password", PASSWORD, "--noinput")
    return User.objects.get(username=username)


def test_it_creates_a_staff_member_of_the_organizers_group_who_is_not_a_superuser():
    output = create("--username", "olga", "--password", PASSWORD, "--noinput")

    olga = User.objects.get(username="olga")
    assert olga.is_staff and olga.is_active and not olga.is_superuser
    assert list(olga.groups.values_list("name", flat=True)) == [ORGANIZERS_GROUP]
    assert olga.check_password(PASSWORD)
    assert "Created organizer 'olga'" in output


def test_the_organizer_has_exactly_the_permissions_an_organizer_needs():
    olga = organizer_created()

    assert olga.get_all_permissions() == set(ORGANIZER_PERMISSIONS)


def test_the_group_gets_back_its_permissions_when_they_were_edited():
    organizer_created("olga")
    group = Group.objects.get(name=ORGANIZERS_GROUP)
    group.permissions.add(Permission.objects.get(codename="delete_user"))

    organizer_created("oscar")

    perms = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert perms == set(ORGANIZER_PERMISSIONS)


def test_an_existing_account_becomes_an_organizer_with_the_new_password():
    UserFactory(username="olga", is_staff=False)

    output = create("--username", "olga", "--password", PASSWORD, "--noinput")

    olga = User.objects.get(username="olga")
    assert olga.is_staff and olga.check_password(PASSWORD)
    assert "Updated organizer 'olga'" in output


def test_without_input_it_needs_both_username_and_password():
    with pytest.raises(CommandError, match="--noinput needs --username and --password"):
        create("--username", "olga", "--noinput")


def test_a_weak_password_is_refused_and_nothing_is_created():
    with pytest.raises(CommandError, match="password: This password is too short"):
        create("--username", "olga", "--password", "abc", "--noinput")

    assert not User.objects.filter(username="olga").exists()


@pytest.mark.django_db(transaction=True)
def test_without_flags_it_asks_for_the_username_and_the_password_twice():
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", "createorganizer"],
        cwd=ROOT,
        env=child_env(),
        input=f"olga\n{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "Created organizer 'olga'" in done.stdout
    assert User.objects.get(username="olga").groups.filter(name=ORGANIZERS_GROUP).exists()


# --- What the organizer can do -------------------------------------------------------------


@pytest.fixture
def organizer_browser() -> Client:
    browser = Client()
    browser.force_login(organizer_created())
    return browser


@pytest.mark.parametrize(
    "page",
    [
        "admin:contests_contest_changelist",
        "admin:contests_contest_add",
        "admin:contests_question_changelist",
        "admin:contests_participant_changelist",
        "admin:contests_submission_changelist",
    ],
)
def test_in_the_admin_the_organizer_reaches_the_contest_pages(organizer_browser, page):
    assert organizer_browser.get(reverse(page)).status_code == 200


@pytest.mark.parametrize(
    "page",
    ["admin:accounts_user_changelist", "admin:accounts_user_add", "admin:auth_group_changelist"],
)
def test_in_the_admin_the_organizer_reaches_no_account_or_group_page(organizer_browser, page):
    assert organizer_browser.get(reverse(page)).status_code == 403


def test_through_the_api_the_organizer_authors_runs_and_exports_a_contest():
    api = client_for(organizer_created())

    created = api.post("/api/contests/", contest_document(), format="json")
    contest_id = created.json()["id"]
    started = api.post(f"/api/contests/{contest_id}/start/")
    ended = api.post(f"/api/contests/{contest_id}/end/")
    standings = api.get(f"/api/contests/{contest_id}/standings.csv")

    assert [r.status_code for r in (created, started, ended, standings)] == [201, 200, 200, 200]


def test_a_player_is_refused_what_the_organizer_may_do(participant_client):
    assert (
        participant_client.post("/api/contests/", contest_document(), format="json").status_code
        == 403
    )


def test_with_nothing_to_read_it_says_how_to_run_it_without_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    with pytest.raises(CommandError, match="give --username and --password with --noinput"):
        create()
