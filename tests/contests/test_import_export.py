"""manage.py import_contest and export_contest"""

import io
import json
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from contests.models import Contest
from tests.factories import contest_document, contest_of_every_type

pytestmark = pytest.mark.django_db

EXAMPLE = Path(settings.BASE_DIR) / "docs" / "examples" / "demo-contest.json"


def import_file(path: Path, *args: str) -> Contest:
    out = io.StringIO()
    call_command("import_contest", str(path), *args, stdout=out, stderr=io.StringIO())
    return Contest.objects.get(pk=out.getvalue().strip())


def export(contest: Contest) -> dict:
    out = io.StringIO()
    call_command("export_contest", str(contest.pk), stdout=out)
    return json.loads(out.getvalue())


def write(tmp_path: Path, document) -> Path:
    path = tmp_path / "contest.json"
    path.write_text(json.dumps(document))
    return path


def database_content(contest: Contest) -> list:
    """Everything authored about a contest, without ids and join code."""
    return [
        (
            contest.title,
            contest.description,
            contest.start_time,
            contest.scoring_mode,
            contest.intermission_seconds,
            contest.requires_registration,
            contest.max_participants,
        ),
        *[
            (
                q.order,
                q.type,
                q.text,
                q.points,
                q.time_limit_seconds,
                q.numeric_answer,
                q.numeric_tolerance,
                q.accepted_answers,
                [(c.text, c.is_correct, c.order) for c in q.ordered_choices()],
            )
            for q in contest.ordered_questions()
        ],
    ]


def test_the_example_file_imports_and_prints_the_new_id():
    contest = import_file(EXAMPLE)

    assert contest.title == "Demo quiz"
    assert contest.questions.count() == 6
    assert {q.type for q in contest.questions.all()} == {
        "single_choice",
        "multiple_choice",
        "numeric",
        "text",
    }


def test_import_records_the_author(tmp_path, organizer):
    contest = import_file(write(tmp_path, contest_document()), "--created-by", "organizer")

    assert contest.created_by == organizer


def test_import_export_import_gives_equal_data(tmp_path):
    first = import_file(EXAMPLE)
    exported = export(first)
    second = import_file(write(tmp_path, exported))

    assert database_content(second) == database_content(first)
    assert export(second) == exported
    assert second.pk != first.pk and second.join_code != first.join_code


def test_export_writes_every_question_type_in_the_import_format():
    contest = contest_of_every_type()

    document = export(contest)

    assert [q["type"] for q in document["questions"]] == [
        "single_choice",
        "multiple_choice",
        "numeric",
        "text",
    ]
    assert document["questions"][2]["numeric_answer"] == 3.14
    assert document["questions"][3]["accepted_answers"] == ["Paris"]
    assert document["questions"][0]["choices"][0] == {"text": "A", "is_correct": True, "order": 1}


def test_export_keeps_a_scheduled_start_time(tmp_path):
    document = contest_document(start_time="2099-05-01T18:30:00Z")
    contest = import_file(write(tmp_path, document))

    exported = export(contest)

    assert exported["start_time"] == "2099-05-01T18:30:00+00:00"
    assert import_file(write(tmp_path, exported)).start_time == contest.start_time


def test_import_reports_invalid_json_clearly(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"title": ')

    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("import_contest", str(path))


def test_import_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_contest", str(tmp_path / "nope.json"))


def test_import_reports_every_problem_by_path_and_creates_nothing(tmp_path):
    document = contest_document()
    document["questions"][0]["choices"][1]["is_correct"] = True
    document["questions"][1]["type"] = "essay"

    with pytest.raises(CommandError) as raised:
        call_command("import_contest", str(write(tmp_path, document)))

    message = str(raised.value)
    assert "questions.1.type" in message
    assert not Contest.objects.exists()

    del document["questions"][1]
    with pytest.raises(
        CommandError, match=re.escape("questions.0.choices: A single-choice question")
    ):
        call_command("import_contest", str(write(tmp_path, document)))


def test_import_rejects_a_document_that_is_not_an_object(tmp_path):
    with pytest.raises(CommandError, match="non_field_errors"):
        call_command("import_contest", str(write(tmp_path, [1, 2])))


def test_import_rejects_an_unknown_author(tmp_path):
    with pytest.raises(CommandError, match="No user is called 'ghost'"):
        call_command(
            "import_contest", str(write(tmp_path, contest_document())), "--created-by", "ghost"
        )


@pytest.mark.parametrize("contest_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_export_reports_an_unknown_contest(contest_id):
    with pytest.raises(CommandError, match="No contest has the id"):
        call_command("export_contest", contest_id)
