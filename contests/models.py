"""The contest domain: contests, their questions and choices, participants, submissions.

Live state of a running contest (which question is open, its deadline, the pause) lives
on the Contest row as absolute UTC instants, so any process can continue a contest after
another stopped. Transitions of that state are conditional updates in contests.services.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Now

# Readable aloud and typable: no 0/O, 1/I/L.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6
# The leaderboard packs score and time into one exact float; this bound keeps them exact
# (see leaderboard/ranking.py).
MAX_QUESTIONS_PER_CONTEST = 100
MAX_TEXT_ANSWER_LENGTH = 200


def generate_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def live_board_through(
    *,
    answer_reveal: str,
    current_question_index: int,
    question_open: bool,
    leaderboard_freeze_last: int,
    total_questions: int,
) -> int | None:
    """The last question position (1-based) whose points a running contest's live
    leaderboard counts; None: every answer, the open question's too (immediate reveal
    and no freeze). Answers revealed on close: only closed questions count. A freeze of
    the last N questions: nothing after position total - N (the frozen zone) counts."""
    through: int | None = None
    if answer_reveal == Contest.AnswerReveal.ON_CLOSE:
        through = current_question_index - (1 if question_open else 0)
    if leaderboard_freeze_last:
        last_unfrozen = max(total_questions - leaderboard_freeze_last, 0)
        through = last_unfrozen if through is None else min(through, last_unfrozen)
    return through


class Contest(models.Model):
    class Status(models.TextChoices):
        UPCOMING = "upcoming"
        ACTIVE = "active"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    class ScoringMode(models.TextChoices):
        SPEED = "speed", "Speed (faster correct answers score more)"
        FIXED = "fixed", "Fixed (full points for a correct answer)"

    class AnswerReveal(models.TextChoices):
        ON_CLOSE = "on_close", "When the question closes (everyone at the same moment)"
        IMMEDIATE = "immediate", "At once, in the reply to the answer"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.UPCOMING, db_index=True
    )
    start_time = models.DateTimeField(
        null=True, blank=True, help_text="Scheduled start (UTC). Empty: started by hand."
    )
    join_code = models.CharField(
        max_length=JOIN_CODE_LENGTH, unique=True, default=generate_join_code, editable=False
    )
    scoring_mode = models.CharField(
        max_length=8, choices=ScoringMode.choices, default=ScoringMode.SPEED
    )
    intermission_seconds = models.PositiveIntegerField(
        default=5, validators=[MaxValueValidator(600)]
    )
    requires_registration = models.BooleanField(
        default=False,
        help_text="Off: joining over the WebSocket registers the player. "
        "On: players must register through the API first.",
    )
    max_participants = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )

    # Fair play (docs/CONTEST_FORMAT.md): what players learn, and when.
    answer_reveal = models.CharField(
        max_length=16,
        choices=AnswerReveal.choices,
        default=AnswerReveal.ON_CLOSE,
        help_text="When a player learns whether their answer was right. On close: "
        "everyone at the same moment, and the live leaderboard moves only then.",
    )
    leaderboard_visible = models.BooleanField(
        default=True,
        help_text="Off: no live leaderboard; players see only the final standings.",
    )
    leaderboard_freeze_last = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_QUESTIONS_PER_CONTEST)],
        help_text="The live leaderboard stops moving for the last N questions "
        "(0: never); the final standings reveal it.",
    )
    close_when_all_answered = models.BooleanField(
        default=True,
        help_text="A question closes as soon as every player in the room has answered.",
    )
    streak_bonus = models.BooleanField(
        default=False,
        help_text="Speed scoring only: +100 per correct answer in a row after the first, "
        "at most +500.",
    )

    # Live state. current_question_index is the 1-based position of the question that
    # is open (question_open) or was the last to close; 0 before the first opens.
    current_question_index = models.PositiveIntegerField(default=0, editable=False)
    question_open = models.BooleanField(default=False, editable=False)
    question_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    question_deadline = models.DateTimeField(null=True, blank=True, editable=False)
    # When the question at current_question_index closed (its deadline plus grace, or an
    # organizer's skip): an answer that arrived before it, but waited for the database
    # until after it, was not late (contests.services.submissions).
    question_closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_question_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contests_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # The fair-play rules, as the authoring services and the contest file format name them.
    RULE_FIELDS = (
        "answer_reveal",
        "leaderboard_visible",
        "leaderboard_freeze_last",
        "close_when_all_answered",
        "streak_bonus",
    )

    # The columns the contest clock moves (besides status); never edited by hand.
    LIVE_STATE_FIELDS = (
        "current_question_index",
        "question_open",
        "question_started_at",
        "question_deadline",
        "question_closed_at",
        "next_question_at",
        "paused_at",
        "started_at",
        "ended_at",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "start_time"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.join_code})"

    @property
    def is_editable(self) -> bool:
        """Questions and choices are frozen once a contest has left 'upcoming'."""
        return self.status == self.Status.UPCOMING

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def clean(self) -> None:
        if self.streak_bonus and self.scoring_mode != self.ScoringMode.SPEED:
            raise ValidationError({"streak_bonus": "The streak bonus needs speed scoring."})

    @property
    def reveals_on_close(self) -> bool:
        return self.answer_reveal == self.AnswerReveal.ON_CLOSE

    def live_board_through(self, total_questions: int) -> int | None:
        """The last question position (1-based) whose points the live leaderboard
        counts now; None: every answer (see the module function)."""
        return live_board_through(
            answer_reveal=self.answer_reveal,
            current_question_index=self.current_question_index,
            question_open=self.question_open,
            leaderboard_freeze_last=self.leaderboard_freeze_last,
            total_questions=total_questions,
        )

    def leaderboard_is_frozen(self, total_questions: int) -> bool:
        """True once the first question of the frozen zone has opened, until the end."""
        return (
            self.status == self.Status.ACTIVE
            and self.leaderboard_freeze_last > 0
            and self.current_question_index > total_questions - self.leaderboard_freeze_last
        )

    def ordered_questions(self) -> list[Question]:
        return list(self.questions.order_by("order", "id"))

    def estimated_duration_seconds(self, questions: Sequence[Question] | None = None) -> int:
        questions = self.ordered_questions() if questions is None else questions
        total = sum(q.time_limit_seconds for q in questions)
        return total + self.intermission_seconds * max(len(questions) - 1, 0)

    def question_is_live(self, position: int) -> bool:
        """True if the question at this 1-based position has been shown to players. After
        an early end, the questions that were never asked stay unshown."""
        played = self.status in (self.Status.ACTIVE, self.Status.COMPLETED)
        return played and position <= self.current_question_index

    def question_is_closed(self, position: int) -> bool:
        """True once the question at this position can have its answer revealed (never
        for a question that was not asked)."""
        if self.status == self.Status.COMPLETED:
            return position <= self.current_question_index
        if self.status != self.Status.ACTIVE:
            return False
        if position < self.current_question_index:
            return True
        return position == self.current_question_index and not self.question_open


class Question(models.Model):
    class Type(models.TextChoices):
        SINGLE_CHOICE = "single_choice"
        MULTIPLE_CHOICE = "multiple_choice"
        NUMERIC = "numeric"
        TEXT = "text"

    CHOICE_TYPES = (Type.SINGLE_CHOICE, Type.MULTIPLE_CHOICE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.SINGLE_CHOICE)
    text = models.TextField()
    points = models.PositiveIntegerField(default=1000, validators=[MaxValueValidator(10_000)])
    time_limit_seconds = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    numeric_answer = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)
    numeric_tolerance = models.DecimalField(
        max_digits=24,
        decimal_places=6,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    accepted_answers = models.JSONField(
        default=list,
        blank=True,
        help_text="Text questions: the accepted answers, matched ignoring case and spacing.",
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contest", "order"], name="question_unique_order"),
            models.CheckConstraint(
                condition=models.Q(points__lte=10_000), name="question_points_range"
            ),
            models.CheckConstraint(
                condition=models.Q(time_limit_seconds__gte=5, time_limit_seconds__lte=600),
                name="question_time_limit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Q{self.order}: {self.text[:60]}"

    def clean(self) -> None:
        if self.contest_id and not self.contest.is_editable:
            raise ValidationError("Questions of a contest that has started cannot be edited.")
        errors: dict[str, str] = {}
        if self.type == self.Type.NUMERIC and self.numeric_answer is None:
            errors["numeric_answer"] = "A numeric question needs its answer."
        if self.type == self.Type.TEXT:
            answers = self.accepted_answers
            if (
                not isinstance(answers, list)
                or not answers
                or not all(isinstance(a, str) and a.strip() for a in answers)
            ):
                errors["accepted_answers"] = (
                    "A text question needs a list of at least one non-empty accepted answer."
                )
            elif any(len(a) > MAX_TEXT_ANSWER_LENGTH for a in answers):
                errors["accepted_answers"] = (
                    f"Accepted answers are at most {MAX_TEXT_ANSWER_LENGTH} characters."
                )
        if errors:
            raise ValidationError(errors)

    @classmethod
    def validate_choices(cls, question_type: str, choices: Sequence[tuple[str, bool]]) -> None:
        """The rules that need a question's choices together: (text, is_correct) pairs."""
        correct = sum(1 for _, is_correct in choices if is_correct)
        if question_type == cls.Type.SINGLE_CHOICE:
            if len(choices) < 2:
                raise ValidationError("A single-choice question needs at least two choices.")
            if correct != 1:
                raise ValidationError(
                    f"A single-choice question needs exactly one correct choice (it has {correct})."
                )
        elif question_type == cls.Type.MULTIPLE_CHOICE:
            if len(choices) < 2:
                raise ValidationError("A multiple-choice question needs at least two choices.")
            if correct < 1:
                raise ValidationError(
                    "A multiple-choice question needs at least one correct choice."
                )
        elif choices:
            raise ValidationError(f"A {question_type} question has no choices.")

    def ordered_choices(self) -> list[Choice]:
        return sorted(self.choices.all(), key=lambda c: (c.order, str(c.id)))


class Choice(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.question_id and not self.question.contest.is_editable:
            raise ValidationError("Choices of a contest that has started cannot be edited.")


class Participant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    display_name = models.CharField(max_length=50)
    # The database's clock (all processes share it), to the microsecond: the last
    # tie-break of the ranking rule. Returned by the INSERT, no extra query.
    registered_at = models.DateTimeField(db_default=Now())
    # Set when an organizer removes the participant: their answers stay, but they are
    # off the live board and the final standings and cannot join or register again.
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["registered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contest", "user"], name="participant_unique_user")
        ]
        indexes = [models.Index(fields=["contest", "registered_at"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    def remove(self, now: datetime) -> bool:
        """Take the participant out of the contest for good; False if already out."""
        if self.removed_at is not None:
            return False
        self.removed_at = now
        self.save(update_fields=["removed_at"])
        return True


class Submission(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="submissions"
    )
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="submissions")
    answer = models.JSONField()
    is_correct = models.BooleanField()
    points_awarded = models.PositiveIntegerField()
    response_time_ms = models.PositiveIntegerField(help_text="Measured by the server.")
    received_at = models.DateTimeField()
    # Correct answers in a row ending with this one (0 if wrong): the previous question's
    # streak + 1, or 1 after a wrong or missing answer (contests.grading.streak_after).
    streak = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "question"], name="submission_one_per_question"
            )
        ]
        indexes = [models.Index(fields=["question", "is_correct"])]

    def __str__(self) -> str:
        return f"{self.participant} → {self.question_id}"
