"""The contest's page: its rules, its questions with their choices (contests.admin.inlines),
its live state with the organizer controls (contests.controls), and its final standings.

Once a contest has left 'upcoming' everything about it is read-only here, as the models'
clean() also insists. Saves go through the services (contest_create, contest_update,
question_save, question_delete), which lock the contest row and check on it that it is
still upcoming; Django runs each save in one transaction, so the inline rows saved after
them are written under that lock too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import nested_admin
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.models import User
from contests import selectors, services
from contests.admin.forms import ContestForm, ServiceSavesAdmin
from contests.admin.inlines import FinalStandingInline, QuestionInline
from contests.controls import CONTROLS, Control, controls_for
from contests.models import Contest
from core.errors import DomainError

# What an organizer looks for first, then the clock's columns.
GLANCE_FIELDS = ("status", "join_code", "results")
LIVE_FIELDS = (*GLANCE_FIELDS, *Contest.LIVE_STATE_FIELDS, "created_by", "created_at")
CLOCK_FIELDS = LIVE_FIELDS[len(GLANCE_FIELDS) :]
AUTHORING_FIELDS = ("readiness",)


def _run_control(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    contests: Iterable[Contest],
    control: Control,
) -> None:
    """One service call per contest, each reported on its own."""
    for contest in contests:
        try:
            control.service(contest_id=contest.pk)
        except DomainError as exc:
            modeladmin.message_user(request, f"{contest}: {exc.message}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{contest}: {control.done}", messages.SUCCESS)


def _control_action(control: Control) -> Callable[..., None]:
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Contest]
    ) -> None:
        _run_control(modeladmin, request, queryset, control)

    action.__name__ = control.action
    return admin.action(description=control.label, permissions=["change"])(action)


@admin.register(Contest)
class ContestAdmin(nested_admin.NestedModelAdminMixin, ServiceSavesAdmin):
    form = ContestForm
    list_display = [
        "title",
        "join_code",
        "status",
        "start_time",
        "question_count",
        "participant_count",
    ]
    list_filter = ["status", "scoring_mode"]
    search_fields = ["title", "join_code"]
    date_hierarchy = "created_at"
    fieldsets = [
        ("Status", {"fields": (*GLANCE_FIELDS, *AUTHORING_FIELDS)}),
        (None, {"fields": tuple(ContestForm.Meta.fields)}),
        ("Live state", {"fields": CLOCK_FIELDS}),
    ]
    # One list action per organizer control (contests.controls).
    actions = [_control_action(control) for control in CONTROLS.values()]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contest]:
        return selectors.contest_list()

    def get_fieldsets(self, request: HttpRequest, obj: Contest | None = None) -> list:
        if obj is None:
            return [self.fieldsets[1]]
        if obj.status == Contest.Status.UPCOMING:
            # Nothing has happened yet: the clock's columns fold away.
            glance, rules, (live, options) = self.fieldsets
            return [glance, rules, (live, {**options, "classes": ["collapse"]})]
        return self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Contest | None = None) -> list[str]:
        if obj is not None and not obj.is_editable:
            return [*ContestForm.Meta.fields, *LIVE_FIELDS, *AUTHORING_FIELDS]
        return [*LIVE_FIELDS, *AUTHORING_FIELDS]

    def get_inlines(self, request: HttpRequest, obj: Contest | None) -> list[type]:
        if obj is not None and obj.status == Contest.Status.COMPLETED:
            return [QuestionInline, FinalStandingInline]
        return [QuestionInline]

    def has_delete_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        # A running contest is stopped with "End now" or "Cancel", never deleted mid-play.
        running = obj is not None and obj.status == Contest.Status.ACTIVE
        return not running and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Contest, form: Any, change: bool) -> None:
        # Only the authoring fields the form changed, written on the locked row: a save
        # never puts back a live state read before the clock or an organizer moved it.
        if change:
            data = {field: form.cleaned_data[field] for field in form.changed_data}
            saved = services.contest_update(contest_id=obj.pk, data=data)
        else:
            # The admin lets only signed-in staff this far.
            assert isinstance(request.user, User)
            saved = services.contest_create(data=form.cleaned_data, created_by=request.user)
        # The inline formsets and the response hold `obj`: make it the saved contest.
        vars(obj).update(vars(saved))

    @admin.display(description="Questions", ordering="question_count")
    def question_count(self, contest: selectors.ContestWithCounts) -> int:
        return contest.question_count

    @admin.display(description="Participants", ordering="participant_count")
    def participant_count(self, contest: selectors.ContestWithCounts) -> int:
        return contest.participant_count

    @admin.display(description="Ready to start?")
    def readiness(self, contest: Contest) -> str:
        if contest._state.adding or not contest.is_editable:
            return "-"
        problems = selectors.contest_problems(contest_id=contest.pk)
        if not problems:
            return "Yes"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in problems))
        )

    @admin.display(description="Results")
    def results(self, contest: Contest) -> str:
        if contest._state.adding:
            return "-"
        participants = reverse("admin:contests_participant_changelist")
        submissions = reverse("admin:contests_submission_changelist")
        return format_html(
            '<a href="{}?contest__id__exact={}">Participants ({})</a> · '
            '<a href="{}?question__contest__id__exact={}">Submissions</a>',
            participants,
            contest.pk,
            contest.participants.count(),
            submissions,
            contest.pk,
        )

    def view_on_site(self, contest: Contest) -> str:
        # The contest on the site is its host screen (web app): the page's "View on site".
        return reverse("web:host", args=[contest.pk])

    def get_urls(self) -> list:
        control = path(
            "<path:object_id>/control/<str:control>/",
            self.admin_site.admin_view(self.control_view),
            name="contests_contest_control",
        )
        return [control, *super().get_urls()]

    def control_view(self, request: HttpRequest, object_id: str, control: str) -> HttpResponse:
        """The buttons on a contest's page: one organizer control, then back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        contest = self.get_object(request, object_id)
        if contest is None or control not in CONTROLS:
            raise Http404
        if not self.has_change_permission(request):
            raise PermissionDenied
        _run_control(self, request, [contest], CONTROLS[control])
        return HttpResponseRedirect(reverse("admin:contests_contest_change", args=[contest.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        contest = self.get_object(request, object_id)
        controls = controls_for(contest) if contest is not None else []
        extra_context = {
            **(extra_context or {}),
            "contest_controls": [(name, CONTROLS[name].label) for name in controls],
        }
        if contest is not None and not contest.is_editable:
            # Nothing on the page can be saved: no button that pretends otherwise.
            extra_context.update(
                show_save=False, show_save_and_continue=False, show_save_and_add_another=False
            )
        return super().change_view(request, object_id, form_url, extra_context)
