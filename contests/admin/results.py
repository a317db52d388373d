"""Participants and submissions: read-only records of what happened; the one thing done
here is removing a participant from their contest (contests.services.participant_remove)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin, messages
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from contests.models import Participant, Submission
from contests.services import participant_remove
from core.errors import DomainError

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
    list_display = ["display_name", "user", "contest", "score", "registered_at", "removed"]
    list_filter = ["contest", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["display_name", "user__username"]
    list_select_related = ["user", "contest"]
    actions = ["remove_from_contest"]

    def has_remove_permission(self, request: HttpRequest) -> bool:
        # Those who may run the contest's controls (contests.controls).
        return request.user.has_perm("contests.change_contest")

    @admin.action(description="Remove from the contest", permissions=["remove"])
    def remove_from_contest(self, request: HttpRequest, queryset: QuerySet[Participant]) -> None:
        """Each one closed out of the contest on every server; their answers stay."""
        for participant in queryset:
            try:
                participant_remove(contest_id=participant.contest_id, participant_id=participant.pk)
            except DomainError as exc:
                self.message_user(request, f"{participant}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{participant}: removed.", messages.SUCCESS)

    @admin.display(description="Removed", boolean=True, ordering="removed_at")
    def removed(self, participant: Participant) -> bool:
        return participant.is_removed

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
