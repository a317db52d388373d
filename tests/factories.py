"""Test data. Factories build valid objects by default; tests override what they test."""

from __future__ import annotations

import functools
from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from contests.models import Choice, Contest, Participant, Question, Submission

PASSWORD = "correct-horse-battery-staple"


@functools.cache
def _password_hash(raw: str) -> str:
    """Hashing costs about 0.25 s here; every test user with one password shares one hash."""
    return make_password(raw)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"Player {n}")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.password = _password_hash(extracted or PASSWORD)
        if create:
            obj.save()


def staff_user(*permissions: str, **kwargs) -> User:
    """A staff account (not a superuser) holding exactly `permissions`, e.g.
    "contests.change_contest"."""
    user = UserFactory(is_staff=True, **kwargs)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


class ContestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contest

    title = factory.Sequence(lambda n: f"Contest {n}")
    description = "A test contest."
    intermission_seconds = 1
    created_by = factory.SubFactory(UserFactory, is_staff=True)
    # The model's defaults, but for the early close: most tests have one player answer
    # and then look at the question while it is still open. Tests of the early close (and
    # of the defaults as a whole) turn it on.
    close_when_all_answered = False


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    contest = factory.SubFactory(ContestFactory)
    order = factory.Sequence(lambda n: n + 1)
    type = Question.Type.SINGLE_CHOICE
    text = factory.Sequence(lambda n: f"Question {n}?")
    points = 1000
    time_limit_seconds = 10


class ChoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Choice

    question = factory.SubFactory(QuestionFactory)
    text = factory.Sequence(lambda n: f"Choice {n}")
    is_correct = False
    order = factory.Sequence(lambda n: n)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    contest = factory.SubFactory(ContestFactory)
    user = factory.SubFactory(UserFactory)
    display_name = factory.LazyAttribute(lambda p: p.user.get_display_name())
    registered_at = factory.LazyFunction(timezone.now)


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission

    participant = factory.SubFactory(ParticipantFactory)
    question = factory.SubFactory(QuestionFactory)
    answer = "any"
    is_correct = False
    points_awarded = 0
    response_time_ms = 1000
    received_at = factory.LazyFunction(timezone.now)


def single_choice_question(contest: Contest, *, order: int, **kwargs) -> Question:
    """A single-choice question with choices A (correct) and B."""
    question = QuestionFactory(contest=contest, order=order, **kwargs)
    ChoiceFactory(question=question, text="A", is_correct=True, order=1)
    ChoiceFactory(question=question, text="B", is_correct=False, order=2)
    return question


def contest_with_questions(*, questions: int = 3, **kwargs) -> Contest:
    """An upcoming contest of `questions` single-choice questions (choice A is right)."""
    contest = ContestFactory(**kwargs)
    for i in range(questions):
        single_choice_question(contest, order=i + 1)
    return contest


def contest_of_every_type(**kwargs) -> Contest:
    """One question of each type, in order: single, multiple, numeric, text."""
    contest = ContestFactory(**kwargs)
    single_choice_question(contest, order=1)
    multi = QuestionFactory(contest=contest, order=2, type=Question.Type.MULTIPLE_CHOICE)
    ChoiceFactory(question=multi, text="2", is_correct=True, order=1)
    ChoiceFactory(question=multi, text="3", is_correct=True, order=2)
    ChoiceFactory(question=multi, text="4", is_correct=False, order=3)
    QuestionFactory(
        contest=contest,
        order=3,
        type=Question.Type.NUMERIC,
        numeric_answer=Decimal("3.14"),
        numeric_tolerance=Decimal("0.01"),
    )
    QuestionFactory(contest=contest, order=4, type=Question.Type.TEXT, accepted_answers=["Paris"])
    return contest


def open_question(contest: Contest, *, index: int = 1, started_at=None) -> Contest:
    """Put a contest in the state 'question `index` is open since `started_at`' directly in
    the database, so a test does not depend on the clock to get there."""
    from datetime import timedelta

    started_at = started_at or timezone.now()
    question = contest.ordered_questions()[index - 1]
    Contest.objects.filter(pk=contest.pk).update(
        status=Contest.Status.ACTIVE,
        started_at=contest.started_at or started_at,
        current_question_index=index,
        question_open=True,
        question_started_at=started_at,
        question_deadline=started_at + timedelta(seconds=question.time_limit_seconds),
        next_question_at=None,
        paused_at=None,
    )
    contest.refresh_from_db()
    return contest


def contest_document(**overrides) -> dict:
    """A valid contest in the JSON format of POST /api/contests/ and import_contest:
    one question of each type, manual start."""
    document = {
        "title": "General knowledge",
        "description": "Four questions.",
        "start_time": None,
        "scoring_mode": "speed",
        "intermission_seconds": 3,
        "requires_registration": False,
        "max_participants": None,
        "questions": [
            {
                "order": 1,
                "type": "single_choice",
                "text": "Red planet?",
                "points": 1000,
                "time_limit_seconds": 10,
                "choices": [
                    {"text": "Mars", "is_correct": True},
                    {"text": "Venus", "is_correct": False},
                ],
            },
            {
                "order": 2,
                "type": "multiple_choice",
                "text": "Primes?",
                "points": 500,
                "time_limit_seconds": 10,
                "choices": [
                    {"text": "2", "is_correct": True},
                    {"text": "3", "is_correct": True},
                    {"text": "4", "is_correct": False},
                ],
            },
            {
                "order": 3,
                "type": "numeric",
                "text": "Pi?",
                "points": 1000,
                "time_limit_seconds": 10,
                "numeric_answer": 3.14,
                "numeric_tolerance": 0.01,
            },
            {
                "order": 4,
                "type": "text",
                "text": "Capital of France?",
                "points": 1000,
                "time_limit_seconds": 10,
                "accepted_answers": ["Paris"],
            },
        ],
    }
    document.update(overrides)
    return document
