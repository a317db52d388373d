"""The fair-play rules as organizers set them: defaults, the API (create, detail, list,
edit), the contest file format (import/export, the demo), the admin, and their checks."""

from __future__ import annotations

import importlib
import io
import json

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command

from contests.models import Contest
from contests.selectors import contest_export, contest_problems
from contests.services import contest_create, contest_update
from tests.conftest import client_for
from tests.factories import contest_document, contest_with_questions

pytestmark = pytest.mark.django_db

RULES = {
    "answer_reveal": "on_close",
    "leaderboard_visible": True,
    "leaderboard_freeze_last": 0,
    "close_when_all_answered": True,
    "streak_bonus": False,
}


def test_a_contest_created_with_the_defaults_reveals_on_close_and_closes_early():
    contest = contest_create(data={"title": "Defaults"}, created_by=None)

    assert {field: getattr(contest, field) for field in RULES} == RULES
    assert contest.reveals_on_close


def test_the_api_creates_shows_and_edits_the_rules(organizer_client, participant_client):
    document = contest_document(
        answer_reveal="immediate",
        leaderboard_visible=False,
        leaderboard_freeze_last=2,
        close_when_all_answered=False,
        streak_bonus=True,
    )
    created = organizer_client.post("/api/contests/", document, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in RULES} == {k: document[k] for k in RULES}
    seen = participant_client.get(f"/api/contests/{body['id']}/").json()
    assert {k: seen[k] for k in RULES} == {k: document[k] for k in RULES}
    listed = participant_client.get("/api/contests/").json()["results"][0]
    assert listed["answer_reveal"] == "immediate"

    edited = organizer_client.patch(
        f"/api/contests/{body['id']}/", {"answer_reveal": "on_close"}, format="json"
    )
    assert edited.json()["answer_reveal"] == "on_close"
    assert (
        organizer_client.post("/api/contests/", {"title": "x"}, format="json").json()[
            "answer_reveal"
        ]
        == "on_close"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"answer_reveal": "later"}, "answer_reveal"),
        ({"leaderboard_freeze_last": 5}, "leaderboard_freeze_last"),
        ({"leaderboard_freeze_last": -1}, "leaderboard_freeze_last"),
        ({"streak_bonus": True, "scoring_mode": "fixed"}, "streak_bonus"),
    ],
)
def test_the_api_refuses_rules_that_cannot_hold(organizer_client, changes, field):
    # The document has four questions: a freeze of 5 is longer than the contest.
    response = organizer_client.post("/api/contests/", contest_document(**changes), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_freeze_longer_than_the_contest_keeps_it_from_starting():
    contest = contest_with_questions(questions=2)
    contest_update(contest_id=contest.pk, data={"leaderboard_freeze_last": 3})

    (problem,) = contest_problems(contest_id=contest.pk)
    assert "last 3 questions" in problem
    with pytest.raises(ValidationError):
        contest_update(
            contest_id=contest.pk,
            data={"leaderboard_freeze_last": 3, "questions": contest_document()["questions"][:2]},
        )


def test_the_contest_file_carries_the_rules_both_ways(tmp_path):
    document = contest_document(answer_reveal="immediate", leaderboard_freeze_last=1)
    path = tmp_path / "contest.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("import_contest", str(path), stdout=out, stderr=io.StringIO())
    contest = Contest.objects.get(pk=out.getvalue().strip())

    exported = contest_export(contest_id=contest.pk)

    assert {k: exported[k] for k in RULES} == {
        **RULES,
        **{k: document[k] for k in document if k in RULES},
    }


def test_the_demo_contest_lists_every_rule_and_imports_as_written():
    from contests.management.commands.seed_demo import DEMO_CONTEST_FILE

    document = json.loads(DEMO_CONTEST_FILE.read_text())
    assert set(RULES) <= set(document)
    out = io.StringIO()
    call_command("import_contest", str(DEMO_CONTEST_FILE), stdout=out, stderr=io.StringIO())
    contest = Contest.objects.get(pk=out.getvalue().strip())
    assert {k: getattr(contest, k) for k in RULES} == {k: document[k] for k in RULES}
    assert contest_problems(contest_id=contest.pk) == []


def test_the_admin_shows_and_saves_the_rules(admin_client):
    contest = contest_with_questions(questions=2)
    page = admin_client.get(f"/admin/contests/contest/{contest.pk}/change/").content.decode()
    for field in RULES:
        assert f'name="{field}"' in page


def test_contests_started_before_the_rules_keep_the_rules_they_were_played_with():
    """The migration: grades were in the reply and nothing closed early back then."""
    upcoming = contest_with_questions(questions=1, close_when_all_answered=True)
    played = contest_with_questions(
        questions=1, status=Contest.Status.COMPLETED, close_when_all_answered=True
    )
    migration = importlib.import_module("contests.migrations.0002_fair_play")

    migration.keep_old_rules_of_started_contests(apps, None)

    played.refresh_from_db()
    upcoming.refresh_from_db()
    assert (played.answer_reveal, played.close_when_all_answered) == ("immediate", False)
    assert (upcoming.answer_reveal, upcoming.close_when_all_answered) == ("on_close", True)


def test_a_player_sees_a_staff_only_endpoint_refused(participant):
    contest = contest_with_questions(questions=1)
    response = client_for(participant).patch(
        f"/api/contests/{contest.pk}/", {"answer_reveal": "immediate"}, format="json"
    )
    assert response.status_code == 403
