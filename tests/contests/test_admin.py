"""The organizer admin, driven through its real views with the Django test client."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contests import selectors, services
from contests.models import Choice, Contest, Question
from leaderboard.models import FinalStanding
from tests.conftest import DatabaseThread
from tests.factories import (
    ContestFactory,
    ParticipantFactory,
    SubmissionFactory,
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


def question_row(prefix: str, i: int, *, order: int, type_: str, **extra: str) -> dict[str, str]:
    row = {
        "order": str(order),
        "type": type_,
        "text": f"Question {order}?",
        "points": "1000",
        "time_limit_seconds": "15",
        "numeric_answer": "",
        "numeric_tolerance": "0",
        "accepted_answers": "",
        **extra,
    }
    return {f"{prefix}-{i}-{key}": value for key, value in row.items()}


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
    return data


def choice_rows(*choices: tuple[str, bool]) -> dict[str, str]:
    data = management("choices", len(choices))
    for i, (text, correct) in enumerate(choices):
        data[f"choices-{i}-order"] = str(i + 1)
        data[f"choices-{i}-text"] = text
        if correct:
            data[f"choices-{i}-is_correct"] = "on"
    return data


def existing_choice_rows(question: Question) -> dict[str, str]:
    choices = question.ordered_choices()
    data = management("choices", len(choices), len(choices))
    for i, choice in enumerate(choices):
        data[f"choices-{i}-id"] = str(choice.pk)
        data[f"choices-{i}-question"] = str(question.pk)
        data[f"choices-{i}-order"] = str(choice.order)
        data[f"choices-{i}-text"] = choice.text
        if choice.is_correct:
            data[f"choices-{i}-is_correct"] = "on"
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


def test_an_organizer_authors_a_ten_question_contest_without_leaving_the_admin(
    admin_client, admin_user
):
    # The contest, with its numeric and text questions in the inline list.
    data = {
        **contest_fields(),
        **management("questions", 2),
        **question_row(
            "questions", 0, order=1, type_="numeric", numeric_answer="42", numeric_tolerance="0.5"
        ),
        **question_row(
            "questions", 1, order=2, type_="text", accepted_answers="Paris\n  paris, France  \n"
        ),
        "_save": "Save",
    }
    response = admin_client.post(CONTEST_ADD, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    contest = Contest.objects.get()
    assert contest.created_by == admin_user
    assert contest.questions.get(type="text").accepted_answers == ["Paris", "paris, France"]

    # The choice questions, each on its own page with its choices ("Save and add another").
    add = reverse("admin:contests_question_add")
    next_page = f"{add}?contest={contest.pk}"
    assert next_page in admin_client.get(contest_change(contest)).content.decode()
    for n in range(3, 11):
        type_ = "multiple_choice" if n == 10 else "single_choice"
        form = admin_client.get(next_page)
        assert form.context["adminform"].form.initial["order"] == n, "suggests the next order"
        response = admin_client.post(
            next_page,
            {
                "contest": str(contest.pk),
                **question_fields(Question(order=n, type=type_, text=f"Question {n}?")),
                **choice_rows(("A", True), ("B", type_ == "multiple_choice"), ("C", False)),
                "_addanother" if n < 10 else "_save": "Save",
            },
        )
        assert response.status_code == 302, response.context and response.context["errors"]
        # "Save and add another" stays with this contest; "Save" goes back to its page.
        assert response.url == (next_page if n < 10 else contest_change(contest))

    assert [q.order for q in contest.ordered_questions()] == list(range(1, 11))
    assert Choice.objects.filter(question__contest=contest).count() == 24
    assert selectors.contest_problems(contest_id=contest.pk) == []

    response = admin_client.post(
        CONTEST_LIST, {"action": "start_now", "_selected_action": [str(contest.pk)]}, follow=True
    )
    assert messages_of(response)[-1] == f"{contest}: started."
    contest.refresh_from_db()
    assert contest.status == "active"


def test_the_contest_page_sends_a_new_choice_question_to_its_own_page(admin_client):
    data = {
        **contest_fields(),
        **management("questions", 1),
        **question_row("questions", 0, order=1, type_="single_choice"),
        "_save": "Save",
    }

    response = admin_client.post(CONTEST_ADD, data)

    assert response.status_code == 200
    assert "Add a question with its choices" in response.content.decode()
    assert not Contest.objects.exists()


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


def test_the_contest_page_rejects_a_type_change_that_does_not_suit_the_choices(admin_client):
    contest = contest_with_questions(questions=1)
    data = {**contest_fields(contest.title), **existing_question_rows(contest), "_save": "Save"}
    data["questions-0-type"] = "numeric"
    data["questions-0-numeric_answer"] = "1"

    response = admin_client.post(contest_change(contest), data)

    assert response.status_code == 200
    assert "A numeric question has no choices." in response.content.decode()
    assert contest.questions.get().type == "single_choice"


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
