"""Participants and submissions: read-only records of what happened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from contests.models import Participant, Submission

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ParticipantScore(TypedDict):
    score: int | None  # The sum of no submissions is NULL.


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "user", "contest", "score", "registered_at"]
    list_filter = ["contest"]
    search_fields = ["display_name", "user__username"]
    list_select_related = ["user", "contest"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return super().get_queryset(request).annotate(score=Sum("submissions__points_awarded"))

    @admin.display(description="Score", ordering="score")
    def score(self, participant: WithAnnotations[Participant, ParticipantScore]) -> int:
        return participant.score or 0


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = [
        "participant",
        "question",
        "answer",
        "is_correct",
        "points_awarded",
        "response_time_ms",
        "received_at",
    ]
    list_filter = ["question__contest", "is_correct"]
    search_fields = ["participant__display_name", "participant__user__username"]
    list_select_related = ["participant", "question"]
