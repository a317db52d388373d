"""The organizer admin, driven through its real views with the Django test client."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contests import selectors, services
from contests.models import Contest, Question
from leaderboard.models import FinalStanding
from tests.conftest import DatabaseThread
from tests.factories import (
    ContestFactory,
    ParticipantFactory,
    SubmissionFactory,
    contest_of_every_type,
    contest_with_questions,
)

pytestmark = pytest.mark.django_db

CONTEST_ADD = reverse("admin:contests_contest_add")
CONTEST_LIST = reverse("admin:contests_contest_changelist")


def contest_change(contest: Contest) -> str:
    return reverse("admin:contests_contest_change", args=[contest.pk])


def question_change(question: Question) -> str:
    return reverse("admin:contests_question_change", args=[question.pk])


def management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def contest_fields(title: str = "Pub quiz") -> dict[str, str]:
    return {
        "title": title,
        "description": "Ten questions.",
        "start_time_0": "",
        "start_time_1": "",
        "scoring_mode": "speed",
        "intermission_seconds": "3",
        "max_participants": "",
        # The fair-play rules as the form shows them by default (booleans: ticked boxes).
        "answer_reveal": "on_close",
        "leaderboard_visible": "on",
        "leaderboard_freeze_last": "0",
        "close_when_all_answered": "on",
    }


def question_row(
    prefix: str,
    i: int,
    *,
    order: int | None,
    type_: str,
    choices: tuple[tuple[str, bool], ...] = (),
    **extra: str,
) -> dict[str, str]:
    """A question row of the contest page, with its nested choice rows (all new)."""
    row = {
        "order": "" if order is None else str(order),
        "type": type_,
        "text": f"Question {order if order is not None else i + 1}?",
        "points": "1000",
        "time_limit_seconds": "15",
        "numeric_answer": "",
        "numeric_tolerance": "0",
        "accepted_answers": "",
        **extra,
    }
    data = {f"{prefix}-{i}-{key}": value for key, value in row.items()}
    data.update(choice_rows(*choices, prefix=f"{prefix}-{i}-choices"))
    return data


def existing_question_rows(contest: Contest) -> dict[str, str]:
    data = management("questions", contest.questions.count(), contest.questions.count())
    for i, question in enumerate(contest.ordered_questions()):
        data.update(
            question_row(
                "questions",
                i,
                order=question.order,
                type_=question.type,
                text=question.text,
                id=str(question.pk),
                contest=str(contest.pk),
            )
        )
        data.update(existing_choice_rows(question, prefix=f"questions-{i}-choices"))
    return data


def choice_rows(*choices: tuple[str, bool], prefix: str = "choices") -> dict[str, str]:
    """New choice rows, in order (the order follows the rows)."""
    data = management(prefix, len(choices))
    for i, (text, correct) in enumerate(choices):
        data[f"{prefix}-{i}-text"] = text
        if correct:
            data[f"{prefix}-{i}-is_correct"] = "on"
    return data


def existing_choice_rows(question: Question, *, prefix: str = "choices") -> dict[str, str]:
    choices = question.ordered_choices()
    data = management(prefix, len(choices), len(choices))
    for i, choice in enumerate(choices):
        data[f"{prefix}-{i}-id"] = str(choice.pk)
        data[f"{prefix}-{i}-question"] = str(question.pk)
        data[f"{prefix}-{i}-text"] = choice.text
        if choice.is_correct:
            data[f"{prefix}-{i}-is_correct"] = "on"
    return data


def question_fields(question: Question, **overrides: str) -> dict[str, str]:
    fields = {
        "order": str(question.order),
        "type": question.type,
        "text": question.text,
        "points": str(question.points),
        "time_limit_seconds": str(question.time_limit_seconds),
        "numeric_answer": "" if question.numeric_answer is None else str(question.numeric_answer),
        "numeric_tolerance": str(question.numeric_tolerance),
        "accepted_answers": "\n".join(question.accepted_answers),
    }
    fields.update(overrides)
    return fields


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


TEN_QUESTIONS = [
    (
        "single_choice",
        {},
        (("Mars", True), ("Venus", False), ("Jupiter", False), ("Saturn", False)),
    ),
    ("multiple_choice", {}, (("2", True), ("3", True), ("4", False))),
    ("numeric", {"numeric_answer": "1440", "numeric_tolerance": "0.5"}, ()),
    ("text", {"accepted_answers": "Paris\n  paris, France  \n"}, ()),
    ("single_choice", {}, (("Yes", False), ("No", True))),
    ("numeric", {"numeric_answer": "3.14"}, ()),
    ("text", {"accepted_answers": "Seine"}, ()),
    ("multiple_choice", {}, (("a", True), ("b", False), ("c", True), ("d", False))),
    ("single_choice", {}, (("x", True), ("y", False), ("z", False))),
    ("numeric", {"numeric_answer": "-2"}, ()),
]


# A new question row's fields as the page shows them.
UNTOUCHED = {"text": "", "time_limit_seconds": "20"}


def ten_question_rows() -> dict[str, str]:
    """The contest page's rows as an organizer fills them: no order typed, and after the
    ten questions the blank row the page offers, left as it is."""
    data = management("questions", len(TEN_QUESTIONS) + 1)
    for i, (type_, fields, choices) in enumerate(TEN_QUESTIONS):
        data.update(
            question_row("questions", i, order=None, type_=type_, choices=choices, **fields)
        )
    blank = question_row(
        "questions", len(TEN_QUESTIONS), order=None, type_="single_choice", **UNTOUCHED
    )
    blank.update(choice_rows(*[("", False)] * 4, prefix=f"questions-{len(TEN_QUESTIONS)}-choices"))
    data.update(blank)
    return data


def test_an_organizer_authors_a_ten_question_contest_of_every_type_in_one_save(
    admin_client, admin_user
):
    form = admin_client.get(CONTEST_ADD).context["inline_admin_formsets"][0].formset.forms[0]
    assert form.initial.get("order") is None, "a new row's order is left to the row order"

    response = admin_client.post(
        CONTEST_ADD, {**contest_fields(), **ten_question_rows(), "_save": "Save"}
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    contest = Contest.objects.get()
    assert contest.created_by == admin_user
    questions = contest.ordered_questions()
    assert [(q.order, q.type) for q in questions] == [
        (i + 1, type_) for i, (type_, _, _) in enumerate(TEN_QUESTIONS)
    ]
    for question, (_, _, choices) in zip(questions, TEN_QUESTIONS, strict=True):
        shown = [(c.order, c.text, c.is_correct) for c in question.ordered_choices()]
        assert shown == [(j + 1, text, correct) for j, (text, correct) in enumerate(choices)]
    assert questions[2].numeric_answer == Decimal("1440")
    assert questions[3].accepted_answers == ["Paris", "paris, France"]
    assert selectors.contest_problems(contest_id=contest.pk) == []

    response = admin_client.post(
        CONTEST_LIST, {"action": "start_now", "_selected_action": [str(contest.pk)]}, follow=True
    )
    assert messages_of(response)[-1] == f"{contest}: started."
    contest.refresh_from_db()
    assert contest.status == "active"


def test_new_rows_default_to_a_type_whose_fields_and_choices_are_on_the_page(admin_client):
    page = admin_client.get(CONTEST_ADD)
    formset = page.context["inline_admin_formsets"][0].formset

    assert formset.forms[0]["type"].value() == "single_choice"
    html = page.content.decode()
    assert 'name="questions-0-choices-0-text"' in html
    assert 'name="questions-0-choices-3-text"' in html
    assert "contests/admin/question_types.js" in html


def test_the_contest_page_refuses_a_single_choice_with_two_correct_choices(admin_client):
    data = {
        **contest_fields(),
        **management("questions", 1),
        **question_row(
            "questions", 0, order=None, type_="single_choice", choices=(("A", True), ("B", True))
        ),
        "_save": "Save",
    }

    response = admin_client.post(CONTEST_ADD, data)

    assert response.status_code == 200
    assert "exactly one correct choice (it has 2)" in response.content.decode()
    assert not Contest.objects.exists()


def test_choices_filled_under_a_blank_question_are_not_dropped_silently(admin_client):
    data = {
        **contest_fields(),
        **management("questions", 1),
        **question_row(
            "questions", 0, order=None, type_="single_choice", choices=(("A", True),), **UNTOUCHED
        ),
        "_save": "Save",
    }

    response = admin_client.post(CONTEST_ADD, data)

    assert response.status_code == 200
    assert "Question row 1 has choices but no text." in response.content.decode()


def test_a_question_changed_to_a_type_without_choices_loses_its_choices(admin_client):
    contest = contest_with_questions(questions=1)
    data = {**contest_fields(contest.title), **existing_question_rows(contest), "_save": "Save"}
    data["questions-0-type"] = "numeric"
    data["questions-0-numeric_answer"] = "1"
    data["questions-0-accepted_answers"] = "left over"

    response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    question = contest.questions.get()
    assert (question.type, question.numeric_answer) == ("numeric", Decimal("1"))
    assert question.accepted_answers == []
    assert question.choices.count() == 0


def test_a_choice_added_to_a_question_comes_after_its_choices(admin_client):
    contest = contest_with_questions(questions=1)
    question = contest.questions.get()
    data = {**contest_fields(contest.title), **existing_question_rows(contest), "_save": "Save"}
    count = question.choices.count()
    data["questions-0-choices-TOTAL_FORMS"] = str(count + 1)
    data[f"questions-0-choices-{count}-text"] = "Last one"

    response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert [c.text for c in question.ordered_choices()][-1] == "Last one"


def test_numbers_show_as_typed_and_times_with_seconds(admin_client):
    contest = contest_of_every_type()
    Question.objects.filter(contest=contest, type="numeric").update(
        numeric_answer=Decimal("1440"), numeric_tolerance=Decimal("0.5")
    )

    editable = admin_client.get(contest_change(contest)).content.decode()
    services.contest_start(contest_id=contest.pk)
    read_only = admin_client.get(contest_change(contest)).content.decode()

    question_page = admin_client.get(
        question_change(contest.questions.get(type="numeric"))
    ).content.decode()

    assert 'value="1440"' in editable and 'value="0.5"' in editable
    for page in (read_only, question_page):
        assert ">1440<" in page.replace(" ", "").replace("\n", "")
    assert "1440.000000" not in editable + read_only + question_page
    started = Contest.objects.get(pk=contest.pk).started_at
    assert started is not None and started.strftime("%Y-%m-%d %H:%M:%S") in read_only


def test_a_read_only_contest_page_has_no_save_buttons(admin_client):
    contest = contest_with_questions(questions=1)
    editable = admin_client.get(contest_change(contest)).content.decode()
    services.contest_start(contest_id=contest.pk)

    read_only = admin_client.get(contest_change(contest)).content.decode()

    assert 'name="_save"' in editable
    assert 'name="_save"' not in read_only and 'name="_continue"' not in read_only


def test_the_question_page_rejects_a_single_choice_with_two_correct_choices(admin_client):
    question = bare_question(ContestFactory())

    response = admin_client.post(
        question_change(question),
        {**question_fields(question), **choice_rows(("A", True), ("B", True)), "_save": "Save"},
    )

    assert response.status_code == 200
    assert "exactly one correct choice (it has 2)" in response.content.decode()
    assert question.choices.count() == 0


def test_the_question_page_rejects_a_single_choice_with_one_choice(admin_client):
    question = bare_question(ContestFactory())

    response = admin_client.post(
        question_change(question),
        {**question_fields(question), **choice_rows(("A", True)), "_save": "Save"},
    )

    assert response.status_code == 200
    assert "needs at least two choices" in response.content.decode()


def test_the_question_page_adds_a_question_with_its_choices_in_one_save(admin_client):
    contest = contest_with_questions(questions=1)
    add = reverse("admin:contests_question_add")

    form = admin_client.get(add, {"contest": str(contest.pk)})
    assert form.context["adminform"].form.initial["order"] == 2

    response = admin_client.post(
        f"{add}?contest={contest.pk}",
        {
            "contest": str(contest.pk),
            **question_fields(Question(order=2, type="multiple_choice", text="Which?")),
            **choice_rows(("x", True), ("y", True), ("z", False)),
            "_addanother": "Save and add another",
        },
    )

    assert response.status_code == 302
    assert response.url == f"{add}?contest={contest.pk}"
    question = contest.questions.get(order=2)
    assert [c.is_correct for c in question.ordered_choices()] == [True, True, False]


def test_the_contest_page_rejects_a_numeric_question_without_its_answer(admin_client):
    data = {
        **contest_fields(),
        **management("questions", 1),
        **question_row("questions", 0, order=1, type_="numeric"),
        "_save": "Save",
    }

    response = admin_client.post(CONTEST_ADD, data)

    assert response.status_code == 200
    assert "A numeric question needs its answer." in response.content.decode()
    assert not Contest.objects.exists()


def test_the_contest_page_swaps_the_order_of_two_questions_in_one_save(admin_client):
    contest = contest_with_questions(questions=2)
    first, second = contest.ordered_questions()
    data = {**contest_fields(contest.title), **existing_question_rows(contest), "_save": "Save"}
    data["questions-0-order"], data["questions-1-order"] = "2", "1"

    response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 302
    assert [q.pk for q in contest.ordered_questions()] == [second.pk, first.pk]


def test_the_contest_page_rejects_two_questions_with_the_same_order(admin_client):
    contest = contest_with_questions(questions=2)
    data = {**contest_fields(contest.title), **existing_question_rows(contest), "_save": "Save"}
    data["questions-1-order"] = data["questions-0-order"]

    response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 200
    assert "Please correct the duplicate data for order" in response.content.decode()


def test_the_contest_page_rejects_a_start_time_in_the_past(admin_client):
    data = {**contest_fields(), **management("questions", 0), "_save": "Save"}
    data.update(start_time_0="2020-01-01", start_time_1="10:00:00")

    response = admin_client.post(CONTEST_ADD, data)

    assert response.status_code == 200
    assert "The start time is in the past." in response.content.decode()


def test_questions_and_choices_are_read_only_once_the_contest_is_active(admin_client):
    contest = contest_with_questions(questions=2)
    services.contest_start(contest_id=contest.pk)
    question = contest.ordered_questions()[0]

    contest_page = admin_client.get(contest_change(contest))
    question_page = admin_client.get(question_change(question))
    edit = admin_client.post(
        question_change(question),
        {**question_fields(question, text="Changed"), **choice_rows(("A", True), ("B", False))},
    )
    contest_edit = admin_client.post(
        contest_change(contest),
        {
            **contest_fields("Renamed"),
            **existing_question_rows(contest),
            "questions-0-text": "Changed",
        },
    )

    assert contest_page.status_code == 200
    assert 'name="questions-0-text"' not in contest_page.content.decode()
    assert 'name="title"' not in contest_page.content.decode()
    assert question_page.status_code == 200
    assert question_page.context["title"] == "View question"
    assert 'name="choices-0-text"' not in question_page.content.decode()
    assert edit.status_code == 403
    assert contest_edit.status_code == 302, "a save with every field read-only changes nothing"
    contest.refresh_from_db()
    question.refresh_from_db()
    assert contest.title != "Renamed"
    assert question.text != "Changed"


LOCKED = "Questions of a contest that has started cannot be edited."


def contest_updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith('UPDATE "contests_contest"')]


def test_an_edit_writes_only_the_authoring_fields_it_changed(admin_client):
    contest = contest_with_questions(questions=1)
    data = {**contest_fields("Renamed"), **existing_question_rows(contest), "_save": "Save"}

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 302
    (update,) = contest_updates(queries)
    assert '"title"' in update
    assert not any(f'"{field}"' in update for field in ["status", *Contest.LIVE_STATE_FIELDS])
    assert Contest.objects.get(pk=contest.pk).title == "Renamed"


def test_a_save_of_a_running_contests_read_only_page_writes_nothing(admin_client):
    contest = contest_with_questions(questions=2)
    services.contest_start(contest_id=contest.pk)
    live = ["status", *Contest.LIVE_STATE_FIELDS]
    before = Contest.objects.values(*live).get(pk=contest.pk)
    data = {**contest_fields("Renamed"), **existing_question_rows(contest), "_save": "Save"}

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(contest_change(contest), data, follow=True)

    assert contest_updates(queries) == []
    assert messages_of(response) == [LOCKED]
    assert Contest.objects.values(*live).get(pk=contest.pk) == before


@pytest.mark.django_db(transaction=True)
def test_a_save_racing_the_start_does_not_roll_the_contest_back(admin_user):
    contest = contest_with_questions(questions=2)
    client = Client()
    client.force_login(admin_user)
    # The page as the organizer loaded it, while the contest was upcoming.
    data = {**contest_fields("Renamed"), **existing_question_rows(contest), "_save": "Save"}
    data["questions-0-text"] = "Changed"
    save = DatabaseThread(lambda: client.post(contest_change(contest), data, follow=True))

    with transaction.atomic():
        services.contest_start(contest_id=contest.pk)
        # The save has read the upcoming contest and now waits for the start to commit.
        save.start_until_blocked(table="contests_contest")
    response = save.outcome()

    contest.refresh_from_db()
    assert (contest.status, contest.current_question_index) == ("active", 1)
    assert contest.question_open is True
    assert contest.title != "Renamed"
    assert contest.ordered_questions()[0].text != "Changed"
    assert messages_of(response) == [LOCKED]


@pytest.mark.django_db(transaction=True)
def test_a_question_edit_racing_the_start_is_refused(admin_user):
    contest = contest_with_questions(questions=2)
    question = contest.ordered_questions()[0]
    client = Client()
    client.force_login(admin_user)
    data = {
        **question_fields(question, text="Changed"),
        **existing_choice_rows(question),
        "_save": "Save",
    }
    save = DatabaseThread(lambda: client.post(question_change(question), data, follow=True))

    with transaction.atomic():
        services.contest_start(contest_id=contest.pk)
        save.start_until_blocked(table="contests_contest")
    response = save.outcome()

    question.refresh_from_db()
    assert question.text != "Changed"
    assert messages_of(response) == [LOCKED]


@pytest.mark.django_db(transaction=True)
def test_a_question_deletion_racing_the_start_is_refused(admin_user):
    contest = contest_with_questions(questions=2)
    question = contest.ordered_questions()[0]
    client = Client()
    client.force_login(admin_user)
    delete = reverse("admin:contests_question_delete", args=[question.pk])
    save = DatabaseThread(lambda: client.post(delete, {"post": "yes"}, follow=True))

    with transaction.atomic():
        services.contest_start(contest_id=contest.pk)
        save.start_until_blocked(table="contests_contest")
    response = save.outcome()

    assert Question.objects.filter(pk=question.pk).exists()
    assert response.redirect_chain == [(question_change(question), 302)]
    assert messages_of(response) == [LOCKED]


def test_the_question_page_rejects_an_order_another_question_has(admin_client):
    contest = contest_with_questions(questions=2)
    first, second = contest.ordered_questions()
    data = {
        **question_fields(second, order=str(first.order)),
        **existing_choice_rows(second),
        "_save": "Save",
    }

    response = admin_client.post(question_change(second), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "order": ["Another question of this contest has this order."]
    }
    second.refresh_from_db()
    assert second.order == 2


def test_the_contest_page_rejects_a_maximum_below_the_players_registered(admin_client):
    contest = contest_with_questions(questions=1)
    ParticipantFactory.create_batch(2, contest=contest)
    data = {**contest_fields(contest.title), **existing_question_rows(contest), "_save": "Save"}
    data["max_participants"] = "1"

    response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "max_participants": ["2 participants are already registered."]
    }
    contest.refresh_from_db()
    assert contest.max_participants is None


def test_questions_are_deleted_one_at_a_time_not_in_bulk(admin_client):
    contest_with_questions(questions=2)

    response = admin_client.get(reverse("admin:contests_question_changelist"))

    assert response.status_code == 200
    assert 'value="delete_selected"' not in response.content.decode()


def test_deleting_a_question_of_an_upcoming_contest(admin_client):
    contest = contest_with_questions(questions=2)
    first, second = contest.ordered_questions()

    response = admin_client.post(
        reverse("admin:contests_question_delete", args=[first.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert contest.ordered_questions() == [second]


def test_start_now_and_end_now_run_the_contest(admin_client):
    contest = contest_with_questions(questions=2)

    started = admin_client.post(
        CONTEST_LIST, {"action": "start_now", "_selected_action": [str(contest.pk)]}, follow=True
    )
    contest.refresh_from_db()
    assert contest.status == "active" and contest.question_open
    ended = admin_client.post(
        CONTEST_LIST, {"action": "end_now", "_selected_action": [str(contest.pk)]}, follow=True
    )

    contest.refresh_from_db()
    assert contest.status == "completed"
    assert messages_of(started) == [f"{contest}: started."]
    assert messages_of(ended) == [f"{contest}: ended."]


def test_an_action_from_the_wrong_state_reports_the_conflict_and_changes_nothing(admin_client):
    upcoming = contest_with_questions(questions=1)
    empty = ContestFactory()

    response = admin_client.post(
        CONTEST_LIST,
        {"action": "end_now", "_selected_action": [str(upcoming.pk)]},
        follow=True,
    )
    no_questions = admin_client.post(
        CONTEST_LIST,
        {"action": "start_now", "_selected_action": [str(empty.pk)]},
        follow=True,
    )

    assert messages_of(response) == [f"{upcoming}: Only a running contest can be ended."]
    assert messages_of(no_questions) == [f"{empty}: A contest with no questions cannot start."]
    assert Contest.objects.filter(status="upcoming").count() == 2


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("pause", lambda c: c.paused_at is not None),
        ("skip_question", lambda c: not c.question_open),
        ("cancel", lambda c: c.status == "cancelled"),
    ],
)
def test_the_other_controls_act_on_an_active_contest(admin_client, action, check):
    contest = contest_with_questions(questions=2)
    services.contest_start(contest_id=contest.pk)

    admin_client.post(CONTEST_LIST, {"action": action, "_selected_action": [str(contest.pk)]})

    contest.refresh_from_db()
    assert check(contest)


def test_resume_restarts_a_paused_contest(admin_client):
    contest = contest_with_questions(questions=2)
    services.contest_start(contest_id=contest.pk)
    services.contest_pause(contest_id=contest.pk)

    admin_client.post(CONTEST_LIST, {"action": "resume", "_selected_action": [str(contest.pk)]})

    contest.refresh_from_db()
    assert contest.paused_at is None


def test_results_are_visible_read_only_from_the_contest(admin_client):
    contest = contest_with_questions(questions=1)
    player = ParticipantFactory(contest=contest, display_name="Zed")
    SubmissionFactory(
        participant=player,
        question=contest.ordered_questions()[0],
        answer="A",
        points_awarded=700,
    )
    Contest.objects.filter(pk=contest.pk).update(status="completed")
    FinalStanding.objects.create(
        contest=contest,
        participant=player,
        rank=1,
        score=700,
        correct_count=1,
        total_response_ms=1000,
    )
    other = ParticipantFactory(display_name="Elsewhere")

    page = admin_client.get(contest_change(contest)).content.decode()
    participants = admin_client.get(
        reverse("admin:contests_participant_changelist"), {"contest__id__exact": str(contest.pk)}
    )
    submissions = admin_client.get(
        reverse("admin:contests_submission_changelist"),
        {"question__contest__id__exact": str(contest.pk)},
    )

    assert "Final standings" in page and "Zed" in page
    assert f"?contest__id__exact={contest.pk}" in page
    assert participants.status_code == 200
    assert [p.pk for p in participants.context["cl"].result_list] == [player.pk]
    assert participants.context["cl"].result_list[0].score == 700
    assert other.display_name not in participants.content.decode()
    assert submissions.status_code == 200
    assert len(submissions.context["cl"].result_list) == 1
    participant_page = admin_client.get(
        reverse("admin:contests_participant_change", args=[player.pk])
    )
    assert participant_page.context["title"] == "View participant"


def test_the_contest_list_filters_by_status_and_searches_title_and_join_code(admin_client):
    wanted = ContestFactory(title="Friday quiz", status="active")
    ContestFactory(title="Monday quiz")

    by_status = admin_client.get(CONTEST_LIST, {"status__exact": "active"})
    by_code = admin_client.get(CONTEST_LIST, {"q": wanted.join_code})
    by_title = admin_client.get(CONTEST_LIST, {"q": "friday"})

    for response in (by_status, by_code, by_title):
        assert [c.pk for c in response.context["cl"].result_list] == [wanted.pk]


def bare_question(contest: Contest) -> Question:
    """A single-choice question with no choices yet, as the contest page saves it."""
    return Question.objects.create(contest=contest, order=1, type="single_choice", text="Which?")


def control_url(contest: Contest, control: str) -> str:
    return reverse("admin:contests_contest_control", args=[contest.pk, control])


def test_the_contest_page_offers_the_controls_its_state_allows(admin_client):
    contest = contest_with_questions(questions=2)

    upcoming_page = admin_client.get(contest_change(contest))
    services.contest_start(contest_id=contest.pk)
    active_page = admin_client.get(contest_change(contest))

    assert [c for c, _ in upcoming_page.context["contest_controls"]] == ["start", "cancel"]
    assert control_url(contest, "start") in upcoming_page.content.decode()
    assert [c for c, _ in active_page.context["contest_controls"]] == [
        "pause",
        "skip",
        "end",
        "cancel",
    ]


def test_a_control_button_runs_the_service_and_returns_to_the_contest_page(admin_client):
    contest = contest_with_questions(questions=2)

    response = admin_client.post(control_url(contest, "start"), follow=True)

    assert response.redirect_chain == [(contest_change(contest), 302)]
    assert messages_of(response) == [f"{contest}: started."]
    contest.refresh_from_db()
    assert contest.status == "active"

    again = admin_client.post(control_url(contest, "start"), follow=True)
    assert messages_of(again) == [f"{contest}: Only an upcoming contest can start."]


def test_a_control_button_takes_post_only_and_known_controls_only(admin_client):
    contest = contest_with_questions(questions=1)

    assert admin_client.get(control_url(contest, "start")).status_code == 405
    assert admin_client.post(control_url(contest, "explode")).status_code == 404
    contest.refresh_from_db()
    assert contest.status == "upcoming"


def test_a_control_button_is_not_for_people_without_admin_access(client, participant):
    contest = contest_with_questions(questions=1)
    client.force_login(participant)

    response = client.post(control_url(contest, "start"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
    contest.refresh_from_db()
    assert contest.status == "upcoming"
