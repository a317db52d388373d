"""REST API of the contest domain (docs/API.md), and the JSON error format of every endpoint.

Every error body is `{"code": "<CODE>", "detail": "<message>"}`; invalid input adds
`"errors": {"<path>": ["<message>", ...]}` keyed by dotted path ("questions.2.choices").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from contests import grading, selectors, services
from contests.errors import ContestError, ContestNotFound
from contests.models import MAX_QUESTIONS_PER_CONTEST, Contest, Participant, Question

logger = logging.getLogger(__name__)

# --- Errors ------------------------------------------------------------------------------

VALIDATION_ERROR = "VALIDATION_ERROR"
NON_FIELD = "non_field_errors"


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. CONTEST_LOCKED.")
    detail = serializers.CharField(help_text="Human-readable.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input only: messages by field path, e.g. questions.2.choices.",
    )


def errors_by_path(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested error structures (DRF's, or a ValidationError's message_dict) as
    {dotted path: [messages]}."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            key = str(key)
            if key in (NON_FIELD, "__all__"):
                path = prefix or NON_FIELD
            else:
                path = f"{prefix}.{key}" if prefix else key
            for sub_path, messages in errors_by_path(value, path).items():
                flat.setdefault(sub_path, []).extend(messages)
        return flat
    if isinstance(detail, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in detail):
            return {prefix or NON_FIELD: [str(item) for item in detail]}
        flat = {}
        for i, item in enumerate(detail):
            flat.update(errors_by_path(item, f"{prefix}.{i}" if prefix else str(i)))
        return flat
    return {prefix or NON_FIELD: [str(detail)]}


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return errors_by_path(exc.message_dict)
    return {NON_FIELD: list(exc.messages)}


def _invalid_input(errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"code": VALIDATION_ERROR, "detail": "The input is not valid.", "errors": errors}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error of every API view as JSON (settings.REST_FRAMEWORK)."""
    if isinstance(exc, ContestError):
        set_rollback()
        return Response({"code": exc.code, "detail": exc.message}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return Response(_invalid_input(_django_errors(exc)), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.error("Unhandled error in %s", context.get("view"), exc_info=exc)
        set_rollback()
        return Response(
            {"code": "INTERNAL_ERROR", "detail": "An unexpected error occurred."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        response.data = _invalid_input(errors_by_path(exc.detail))
        return response
    # Http404 and PermissionDenied arrive as Django's exceptions; their status tells them apart.
    if not isinstance(exc, exceptions.APIException):
        exc = (
            exceptions.NotFound() if response.status_code == 404 else exceptions.PermissionDenied()
        )
    if isinstance(exc.detail, Mapping):
        # simplejwt's token errors: {"detail": ..., "code": ..., "messages": [...]}
        code = str(exc.detail.get("code", exc.default_code))
        message = str(exc.detail.get("detail", ""))
    else:
        code = str(exc.get_codes())
        message = str(exc.detail)
    response.data = {"code": code.upper(), "detail": message}
    return response


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """The answer for a path under /api/ that no endpoint serves (also with DEBUG on)."""
    detail = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        detail += " API paths end with a slash."
    return JsonResponse({"code": "NOT_FOUND", "detail": detail}, status=404)


# --- Input ---------------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know: a misspelt key in a contest file must not be
    silently replaced by a default. Nested objects are always whole: in a PATCH only the
    top level is partial (DRF would make every level partial)."""

    def to_internal_value(self, data: Any) -> Any:
        errors: dict[str, Any] = {}
        if isinstance(data, Mapping):
            errors = {key: ["Unknown field."] for key in sorted(set(data) - set(self.fields))}
            if self.parent is not None:
                errors.update(
                    {
                        name: [field.error_messages["required"]]
                        for name, field in self.fields.items()
                        if field.required and name not in data
                    }
                )
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ChoiceInputSerializer(StrictSerializer):
    text = serializers.CharField(max_length=500)
    is_correct = serializers.BooleanField(required=False, help_text="Default false.")
    order = serializers.IntegerField(min_value=0, required=False, help_text="Default: position.")


def _decimal(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=6, coerce_to_string=False, required=False, **kwargs
    )


class QuestionInputSerializer(StrictSerializer):
    order = serializers.IntegerField(min_value=0, required=False, help_text="Default: position.")
    type = serializers.ChoiceField(choices=Question.Type.choices)
    text = serializers.CharField()
    points = serializers.IntegerField(required=False, help_text="0..10000, default 1000.")
    time_limit_seconds = serializers.IntegerField(required=False, help_text="5..600, default 20.")
    numeric_answer = _decimal(allow_null=True, help_text="numeric: the answer.")
    numeric_tolerance = _decimal(help_text="numeric: accepted distance, default 0.")
    accepted_answers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="text: the accepted answers."
    )
    choices = ChoiceInputSerializer(
        many=True, required=False, help_text="single_choice and multiple_choice only."
    )


class ContestInputSerializer(StrictSerializer):
    """The contest document of POST /api/contests/ and import_contest."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    start_time = serializers.DateTimeField(
        required=False, allow_null=True, help_text="null: started by hand."
    )
    scoring_mode = serializers.ChoiceField(choices=Contest.ScoringMode.choices, required=False)
    intermission_seconds = serializers.IntegerField(required=False, help_text="0..600, default 5.")
    requires_registration = serializers.BooleanField(required=False)
    max_participants = serializers.IntegerField(required=False, allow_null=True)
    questions = QuestionInputSerializer(
        many=True, required=False, max_length=MAX_QUESTIONS_PER_CONTEST
    )


class ContestListFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Contest.Status.choices, required=False)
    join_code = serializers.CharField(max_length=16, required=False)


class ParticipantRegisterInputSerializer(StrictSerializer):
    display_name = serializers.CharField(
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

    def to_representation(self, question: Question) -> dict[str, Any]:
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
        return QuestionOutputSerializer(
            self.context["detail"].questions, many=True, context=context
        ).data


def _detail_response(
    request: Request, contest_id: uuid.UUID, status_code: int = status.HTTP_200_OK
) -> Response:
    detail = selectors.contest_detail(contest_id=contest_id, user=request.user)
    serializer = ContestDetailSerializer(
        detail.contest, context={"detail": detail, "staff": request.user.is_staff}
    )
    return Response(serializer.data, status=status_code)


class ParticipantOutputSerializer(serializers.ModelSerializer):
    contest_id = serializers.UUIDField()

    class Meta:
        model = Participant
        fields = ["id", "contest_id", "display_name", "registered_at"]


# --- Views ---------------------------------------------------------------------------------

CONTEST_ID = OpenApiParameter("contest_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}


def _errors(*codes: int) -> dict[int, type[ErrorSerializer]]:
    return {code: ERRORS[code] for code in codes}


def _contest_uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ContestNotFound() from None


class ContestPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class HasModelPermission(BasePermission):
    """Staff holding the model permission that the admin requires for the same action
    (contests.add_contest to create, contests.change_contest to edit and to run)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_staff and user.has_perm(self.permission))


class StaffWritesMixin:
    """Anyone signed in reads; writes need `write_permission`."""

    write_permission = "contests.change_contest"

    def get_permissions(self) -> list:
        if self.request.method in SAFE_METHODS:
            return [IsAuthenticated()]
        return [HasModelPermission(self.write_permission)]


class ContestListView(StaffWritesMixin, GenericAPIView):
    write_permission = "contests.add_contest"
    pagination_class = ContestPagination
    # What OPTIONS describes for POST (DRF's metadata asks the view for a serializer).
    serializer_class = ContestInputSerializer

    @extend_schema(
        summary="List contests",
        parameters=[ContestListFilterSerializer],
        responses={200: ContestSummarySerializer(many=True), **_errors(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = ContestListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        contests = selectors.contest_list(
            status=filters.validated_data.get("status"),
            join_code=filters.validated_data.get("join_code"),
        )
        page = self.paginate_queryset(contests)
        return self.get_paginated_response(ContestSummarySerializer(page, many=True).data)

    @extend_schema(
        summary="Create a contest with its questions (staff)",
        request=ContestInputSerializer,
        responses={201: ContestDetailSerializer, **_errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        serializer = ContestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contest = services.contest_create(data=serializer.validated_data, created_by=request.user)
        return _detail_response(request, contest.pk, status.HTTP_201_CREATED)


class ContestDetailView(StaffWritesMixin, APIView):
    @extend_schema(
        summary="A contest and its questions, as far as the viewer may see them",
        parameters=[CONTEST_ID],
        responses={200: ContestDetailSerializer, **_errors(401, 404)},
    )
    def get(self, request: Request, contest_id: str) -> Response:
        return _detail_response(request, _contest_uuid(contest_id))

    def _update(self, request: Request, contest_id: str, *, partial: bool) -> Response:
        pk = _contest_uuid(contest_id)
        serializer = ContestInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.contest_update(contest_id=pk, data=serializer.validated_data)
        return _detail_response(request, pk)

    @extend_schema(
        summary="Replace an upcoming contest's fields; `questions`, if given, replaces all",
        parameters=[CONTEST_ID],
        request=ContestInputSerializer,
        responses={200: ContestDetailSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def put(self, request: Request, contest_id: str) -> Response:
        return self._update(request, contest_id, partial=False)

    @extend_schema(
        summary="Change some fields of an upcoming contest; `questions`, if given, replaces all",
        parameters=[CONTEST_ID],
        request=ContestInputSerializer,
        responses={200: ContestDetailSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, contest_id: str) -> Response:
        return self._update(request, contest_id, partial=True)


class ContestRegisterView(APIView):
    @extend_schema(
        summary="Register the signed-in user for a contest",
        description="201 when registered now, 200 when already registered.",
        parameters=[CONTEST_ID],
        request=ParticipantRegisterInputSerializer,
        responses={
            201: ParticipantOutputSerializer,
            200: ParticipantOutputSerializer,
            **_errors(400, 401, 404, 409),
        },
    )
    def post(self, request: Request, contest_id: str) -> Response:
        pk = _contest_uuid(contest_id)
        serializer = ParticipantRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        participant, created = services.participant_register(
            contest_id=pk, user=request.user, **serializer.validated_data
        )
        return Response(
            ParticipantOutputSerializer(participant).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class _OrganizerControlView(APIView):
    """An organizer control: one contest-clock service; 409 INVALID_TRANSITION from a
    state that does not allow it. Answers with the contest as staff see it."""

    def get_permissions(self) -> list:
        return [HasModelPermission("contests.change_contest")]

    def transition(self, contest_id: uuid.UUID) -> None:
        raise NotImplementedError

    @extend_schema(
        parameters=[CONTEST_ID],
        request=None,
        responses={200: ContestDetailSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, contest_id: str) -> Response:
        pk = _contest_uuid(contest_id)
        self.transition(pk)
        return _detail_response(request, pk)


class ContestStartView(_OrganizerControlView):
    """Start an upcoming contest now: question 1 opens (409 CONTEST_HAS_NO_QUESTIONS
    without questions, CONTEST_NOT_READY with an incomplete one)."""

    def transition(self, contest_id: uuid.UUID) -> None:
        services.contest_start(contest_id=contest_id)


class ContestEndView(_OrganizerControlView):
    """End an active contest now: the open question closes and final standings are written."""

    def transition(self, contest_id: uuid.UUID) -> None:
        services.contest_end_now(contest_id=contest_id)


class ContestCancelView(_OrganizerControlView):
    """Cancel an upcoming or active contest; nothing is scored."""

    def transition(self, contest_id: uuid.UUID) -> None:
        services.contest_cancel(contest_id=contest_id)


class ContestPauseView(_OrganizerControlView):
    """Pause an active contest: its clock stands still until it is resumed."""

    def transition(self, contest_id: uuid.UUID) -> None:
        services.contest_pause(contest_id=contest_id)


class ContestResumeView(_OrganizerControlView):
    """Resume a paused contest: the open question keeps its remaining time."""

    def transition(self, contest_id: uuid.UUID) -> None:
        services.contest_resume(contest_id=contest_id)


class ContestSkipView(_OrganizerControlView):
    """Close the open question now (the intermission before the next one follows)."""

    def transition(self, contest_id: uuid.UUID) -> None:
        services.question_skip(contest_id=contest_id)


class HealthSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=["ok", "error"])
    redis = serializers.ChoiceField(
        choices=["ok", "error", "disabled"], help_text="disabled: no REDIS_URL (embedded mode)."
    )


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Database and Redis status (503 when one is down)",
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        health = selectors.system_health()
        healthy = all(value in ("ok", "disabled") for value in health.values())
        return Response(
            health, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE
        )
