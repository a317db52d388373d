"""Input and output serializers of the contest API (docs/API.md, docs/CONTEST_FORMAT.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contests import grading
from contests.models import MAX_QUESTIONS_PER_CONTEST, Contest, Participant, Question
from contests.selectors import QuestionInPlay
from core.api import QuerySerializer, StrictSerializer, TextField

# --- Input ---------------------------------------------------------------------------------


class ChoiceInputSerializer(StrictSerializer):
    text = TextField(max_length=500)
    is_correct = serializers.BooleanField(required=False, help_text="Default false.")
    order = serializers.IntegerField(min_value=0, required=False, help_text="Default: position.")


def _decimal(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=6, coerce_to_string=False, required=False, **kwargs
    )


class QuestionInputSerializer(StrictSerializer):
    order = serializers.IntegerField(min_value=0, required=False, help_text="Default: position.")
    type = serializers.ChoiceField(choices=Question.Type.choices)
    text = TextField()
    points = serializers.IntegerField(required=False, help_text="0..10000, default 1000.")
    time_limit_seconds = serializers.IntegerField(required=False, help_text="5..600, default 20.")
    numeric_answer = _decimal(allow_null=True, help_text="numeric: the answer.")
    numeric_tolerance = _decimal(help_text="numeric: accepted distance, default 0.")
    accepted_answers = serializers.ListField(
        child=TextField(), required=False, help_text="text: the accepted answers."
    )
    choices = ChoiceInputSerializer(
        many=True, required=False, help_text="single_choice and multiple_choice only."
    )


class ContestInputSerializer(StrictSerializer):
    """The contest document of POST /api/contests/ and import_contest."""

    title = TextField(max_length=200)
    description = TextField(required=False, allow_blank=True)
    start_time = serializers.DateTimeField(
        required=False, allow_null=True, help_text="null: started by hand."
    )
    scoring_mode = serializers.ChoiceField(choices=Contest.ScoringMode.choices, required=False)
    intermission_seconds = serializers.IntegerField(required=False, help_text="0..600, default 5.")
    requires_registration = serializers.BooleanField(required=False)
    max_participants = serializers.IntegerField(required=False, allow_null=True)
    answer_reveal = serializers.ChoiceField(
        choices=Contest.AnswerReveal.choices,
        required=False,
        help_text="on_close (default): grades and the board move when the question closes.",
    )
    leaderboard_visible = serializers.BooleanField(
        required=False, help_text="Default true; false: only the final standings."
    )
    leaderboard_freeze_last = serializers.IntegerField(
        required=False, help_text="0..number of questions, default 0."
    )
    close_when_all_answered = serializers.BooleanField(required=False, help_text="Default true.")
    streak_bonus = serializers.BooleanField(
        required=False, help_text="Default false; speed scoring only."
    )
    # many=True hands max_length to the ListSerializer it builds (LIST_SERIALIZER_KWARGS);
    # the stubs' Serializer.__init__ does not list it.
    questions = QuestionInputSerializer(  # type: ignore[call-arg]
        many=True, required=False, max_length=MAX_QUESTIONS_PER_CONTEST
    )


class ContestListFilterSerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=Contest.Status.choices, required=False)
    join_code = TextField(max_length=16, required=False)


class ParticipantListFilterSerializer(QuerySerializer):
    # Absent means everyone (None); without allow_null, DRF reads a boolean missing from a
    # query string as false.
    removed = serializers.BooleanField(
        default=None,
        allow_null=True,
        help_text="true: only removed participants; false: only those still in; absent: everyone.",
    )


class ParticipantRegisterInputSerializer(StrictSerializer):
    display_name = TextField(
        max_length=50, required=False, help_text="Default: the account's display name."
    )


# --- Output --------------------------------------------------------------------------------


class ContestSummarySerializer(serializers.ModelSerializer):
    question_count = serializers.IntegerField()
    participant_count = serializers.IntegerField()

    class Meta:
        model = Contest
        fields = [
            "id",
            "title",
            "description",
            "status",
            "start_time",
            "join_code",
            "scoring_mode",
            "intermission_seconds",
            "requires_registration",
            "max_participants",
            *Contest.RULE_FIELDS,
            "question_count",
            "participant_count",
            "started_at",
            "ended_at",
            "created_at",
        ]


class ChoiceOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    text = serializers.CharField()
    is_correct = serializers.BooleanField(
        required=False, help_text="Only once the question has closed (staff: always)."
    )
    order = serializers.IntegerField(required=False, help_text="Staff only.")


class QuestionOutputSerializer(serializers.Serializer):
    """A question as its viewer may see it.

    Everyone: index, points, time limit, is_live, is_closed. Once the question is live
    (shown to players): id, type, text, choices without is_correct. Once it has closed:
    is_correct of each choice and correct_answer. Staff see every field at all times.
    """

    index = serializers.IntegerField(help_text="1-based position in play order.")
    points = serializers.IntegerField()
    time_limit_seconds = serializers.IntegerField()
    is_live = serializers.BooleanField()
    is_closed = serializers.BooleanField()
    id = serializers.UUIDField(required=False)
    type = serializers.ChoiceField(choices=Question.Type.choices, required=False)
    text = serializers.CharField(required=False)
    choices = ChoiceOutputSerializer(many=True, required=False)
    correct_answer = serializers.JSONField(
        required=False, help_text="In the shape of a submitted answer."
    )
    order = serializers.IntegerField(required=False, help_text="Staff only.")
    numeric_answer = _decimal(allow_null=True, help_text="Staff only.")
    numeric_tolerance = _decimal(help_text="Staff only.")
    accepted_answers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Staff only."
    )

    def to_representation(self, question: QuestionInPlay) -> dict[str, Any]:
        contest: Contest = self.context["contest"]
        staff: bool = self.context["staff"]
        live = contest.question_is_live(question.position)
        closed = contest.question_is_closed(question.position)
        data: dict[str, Any] = {
            "index": question.position,
            "points": question.points,
            "time_limit_seconds": question.time_limit_seconds,
            "is_live": live,
            "is_closed": closed,
        }
        if not (staff or live):
            return data
        choices = question.ordered_choices()
        data.update(id=str(question.id), type=question.type, text=question.text)
        data["choices"] = [{"id": str(c.id), "text": c.text} for c in choices]
        if staff or closed:
            for shown, choice in zip(data["choices"], choices, strict=True):
                shown["is_correct"] = choice.is_correct
            data["correct_answer"] = grading.correct_answer_of(question, choices)
        if staff:
            for shown, choice in zip(data["choices"], choices, strict=True):
                shown["order"] = choice.order
            data.update(
                order=question.order,
                numeric_answer=question.numeric_answer,
                numeric_tolerance=question.numeric_tolerance,
                accepted_answers=question.accepted_answers,
            )
        return data


class ContestDetailSerializer(ContestSummarySerializer):
    estimated_duration_seconds = serializers.SerializerMethodField()
    is_registered = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()

    class Meta(ContestSummarySerializer.Meta):
        fields = [
            *ContestSummarySerializer.Meta.fields,
            "current_question_index",
            "question_open",
            "question_started_at",
            "question_deadline",
            "next_question_at",
            "paused_at",
            "estimated_duration_seconds",
            "is_registered",
            "questions",
        ]

    def get_estimated_duration_seconds(self, contest: Contest) -> int:
        return contest.estimated_duration_seconds(self.context["detail"].questions)

    def get_is_registered(self, contest: Contest) -> bool:
        return self.context["detail"].is_registered

    @extend_schema_field(QuestionOutputSerializer(many=True))
    def get_questions(self, contest: Contest) -> list[dict[str, Any]]:
        context = {"contest": contest, "staff": self.context["staff"]}
        # What many=True builds, spelt out: the stubs then know its data is a list.
        return serializers.ListSerializer(
            self.context["detail"].questions, child=QuestionOutputSerializer(), context=context
        ).data


class ParticipantOutputSerializer(serializers.ModelSerializer):
    contest_id = serializers.UUIDField()

    class Meta:
        model = Participant
        fields = ["id", "contest_id", "display_name", "registered_at", "removed_at"]


class ParticipantListItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Participant
        fields = ["id", "display_name", "registered_at", "removed_at"]
