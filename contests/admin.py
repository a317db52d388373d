"""The organizer's admin: author contests, run them, and look at their results.

Authoring: the contest page lists its questions inline (each with a link to its own page,
which holds its choices). Once a contest has left 'upcoming' everything about it is
read-only here, as the models' clean() also insists. Saves go through the services
(contest_create, contest_update, question_save, question_delete), which lock the contest
row and check on it that it is still upcoming; Django runs each save in one transaction,
so the inline rows saved after them are written under that lock too. Running: the
actions call the same contest-clock services as the REST API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet, Sum
from django.forms.models import BaseInlineFormSet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from contests import selectors, services
from contests.errors import ContestError
from contests.models import Choice, Contest, Participant, Question, Submission
from leaderboard.models import FinalStanding

ADD_CHOICE_QUESTION_HINT = (
    "A choice question is saved together with its choices: "
    "use 'Add a question with its choices' above this list."
)
# Orders are moved out of the way before a formset saves, so that questions can swap
# places in one save without tripping the (contest, order) unique constraint.
ORDER_SHIFT = 1_000_000


class LinesField(forms.CharField):
    """A list of strings, edited one per line (text questions' accepted answers)."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 30})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(self.prepare_value(initial or [])) != self.to_python(data)


class RefusableForm(forms.ModelForm):
    """A form whose save a service may still refuse; ServiceSavesAdmin then shows it again
    with the service's errors (`refused`)."""

    refused: ValidationError | None = None

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        if self.refused is not None:
            errors = getattr(self.refused, "message_dict", {None: self.refused.messages})
            for field, field_errors in errors.items():
                self.add_error(field if field in self.fields else None, field_errors)
        return cleaned_data


class ServiceSavesAdmin(admin.ModelAdmin):
    """An admin whose save_model and delete_model call services. A refusal undoes the
    whole save (Django's transaction around it): a ContestError (e.g. the contest has
    started meanwhile) becomes an error message, a ValidationError the form again with
    the service's errors on its fields."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ContestError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        except ValidationError as exc:
            request.refused_by_service = exc
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        # A class made for this request (modelform_factory), so this stays with it.
        form.refused = getattr(request, "refused_by_service", None)
        return form

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ContestError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )


class QuestionForm(RefusableForm):
    accepted_answers = LinesField(
        required=False, help_text="Text questions: the accepted answers, one per line."
    )

    class Meta:
        model = Question
        fields = list(services.QUESTION_FIELDS)
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 40})}


def _link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


# --- Contest page ----------------------------------------------------------------------------


class QuestionInlineFormSet(BaseInlineFormSet):
    """The contest's questions as one list. Django's formset checks that orders are unique
    across the rows (so rows may swap orders; see save). No row may leave a question
    invalid: a new choice question needs its choices, which only its own page has, and a
    type change must suit the choices the question already has."""

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            if form.errors or not form.has_changed() or self._should_delete_form(form):
                continue
            question = form.instance
            question_type = form.cleaned_data["type"]
            if question._state.adding:
                if question_type in Question.CHOICE_TYPES:
                    form.add_error("type", ADD_CHOICE_QUESTION_HINT)
                continue
            if "type" in form.changed_data:
                choices = [(c.text, c.is_correct) for c in question.choices.all()]
                try:
                    Question.validate_choices(question_type, choices)
                except ValidationError as exc:
                    form.add_error("type", exc)

    def save(self, commit: bool = True) -> list[Question]:
        moving = [
            form.instance.pk
            for form in self.initial_forms
            if "order" in form.changed_data or self._should_delete_form(form)
        ]
        Question.objects.filter(pk__in=moving).update(order=F("order") + ORDER_SHIFT)
        return super().save(commit)


class QuestionForContestForm(QuestionForm):
    def validate_unique(self) -> None:
        """(contest, order) is checked by the formset over all rows at once; checked row
        by row against the database, two rows could never swap their orders."""


class QuestionInline(admin.TabularInline):
    model = Question
    form = QuestionForContestForm
    formset = QuestionInlineFormSet
    fields = [*QuestionForm.Meta.fields, "choices_link"]
    readonly_fields = ["choices_link"]
    ordering = ["order", "id"]
    extra = 1

    @admin.display(description="Choices / page")
    def choices_link(self, question: Question) -> str:
        if question._state.adding:
            return "Save first"
        url = reverse("admin:contests_question_change", args=[question.pk])
        if question.type in Question.CHOICE_TYPES:
            return _link(url, f"{question.choices.count()} choices")
        return _link(url, "Open")

    def _editable(self, contest: Contest | None) -> bool:
        return contest is None or contest.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FinalStandingInline(ReadOnlyInline):
    model = FinalStanding
    fields = ["rank", "participant", "score", "correct_count", "total_response_ms"]
    ordering = ["rank"]
    verbose_name_plural = "Final standings"

    def get_queryset(self, request: HttpRequest) -> QuerySet[FinalStanding]:
        return super().get_queryset(request).select_related("participant")


class ContestForm(RefusableForm):
    """The contest's rules beyond its fields' own are the services' (ServiceSavesAdmin)."""

    class Meta:
        model = Contest
        fields = list(services.CONTEST_FIELDS)


LIVE_FIELDS = [
    "status",
    "join_code",
    *Contest.LIVE_STATE_FIELDS,
    "results",
    "created_by",
    "created_at",
]
AUTHORING_FIELDS = ["add_question", "readiness"]


# control name: (label, service, what the success message says)
CONTROLS: dict[str, tuple[str, Callable[..., object], str]] = {
    "start": ("Start now", services.contest_start, "started."),
    "pause": ("Pause", services.contest_pause, "paused."),
    "resume": ("Resume", services.contest_resume, "resumed."),
    "skip": ("Skip question", services.question_skip, "question closed."),
    "end": ("End now", services.contest_end_now, "ended."),
    "cancel": ("Cancel contest", services.contest_cancel, "cancelled."),
}


def _controls_for(contest: Contest) -> list[str]:
    """The buttons worth showing; the services still decide (and answer a stale page)."""
    if contest.status == Contest.Status.UPCOMING:
        return ["start", "cancel"]
    if contest.status != Contest.Status.ACTIVE:
        return []
    controls = ["resume" if contest.is_paused else "pause"]
    if contest.question_open:
        controls.append("skip")
    return [*controls, "end", "cancel"]


def _run_control(
    modeladmin: admin.ModelAdmin, request: HttpRequest, contests: Iterable[Contest], control: str
) -> None:
    """One service call per contest, each reported on its own."""
    _, service, done = CONTROLS[control]
    for contest in contests:
        try:
            service(contest_id=contest.pk)
        except ContestError as exc:
            modeladmin.message_user(request, f"{contest}: {exc.message}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{contest}: {done}", messages.SUCCESS)


@admin.register(Contest)
class ContestAdmin(ServiceSavesAdmin):
    form = ContestForm
    list_display = [
        "title",
        "join_code",
        "status",
        "start_time",
        "question_count",
        "participant_count",
        "created_at",
    ]
    list_filter = ["status", "scoring_mode"]
    search_fields = ["title", "join_code"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ContestForm.Meta.fields}),
        ("Live state", {"fields": LIVE_FIELDS}),
        ("Questions", {"fields": AUTHORING_FIELDS}),
    ]
    actions = ["start_now", "end_now", "pause", "resume", "skip_question", "cancel"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contest]:
        return selectors.contest_list()

    def get_fieldsets(self, request: HttpRequest, obj: Contest | None = None) -> list:
        if obj is None:
            return [self.fieldsets[0], ("Questions", {"fields": ["add_question"]})]
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
            saved = services.contest_create(data=form.cleaned_data, created_by=request.user)
        # The inline formsets and the response hold `obj`: make it the saved contest.
        vars(obj).update(vars(saved))

    @admin.display(description="Questions", ordering="question_count")
    def question_count(self, contest: Contest) -> int:
        return contest.question_count

    @admin.display(description="Participants", ordering="participant_count")
    def participant_count(self, contest: Contest) -> int:
        return contest.participant_count

    @admin.display(description="Add")
    def add_question(self, contest: Contest) -> str:
        if contest._state.adding:
            return "Save the contest first; numeric and text questions can be added below now."
        if not contest.is_editable:
            return "-"
        url = reverse("admin:contests_question_add")
        return _link(f"{url}?contest={contest.pk}", "Add a question with its choices")

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
        _run_control(self, request, [contest], control)
        return HttpResponseRedirect(reverse("admin:contests_contest_change", args=[contest.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        contest = self.get_object(request, object_id)
        controls = _controls_for(contest) if contest is not None else []
        extra_context = {
            **(extra_context or {}),
            "contest_controls": [(name, CONTROLS[name][0]) for name in controls],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Start now", permissions=["change"])
    def start_now(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        _run_control(self, request, queryset, "start")

    @admin.action(description="End now", permissions=["change"])
    def end_now(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        _run_control(self, request, queryset, "end")

    @admin.action(description="Pause", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        _run_control(self, request, queryset, "pause")

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        _run_control(self, request, queryset, "resume")

    @admin.action(description="Skip (close the open question now)", permissions=["change"])
    def skip_question(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        _run_control(self, request, queryset, "skip")

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        _run_control(self, request, queryset, "cancel")

    def view_on_site(self, contest: Contest) -> str:
        # The contest on the site is its host screen (web app): the page's "View on site".
        return reverse("web:host", args=[contest.pk])


# --- Question page ---------------------------------------------------------------------------


class ChoiceInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        choices = [
            (form.cleaned_data["text"], form.cleaned_data.get("is_correct", False))
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]
        # self.instance carries the question form's values, including a changed type.
        Question.validate_choices(self.instance.type, choices)


class ChoiceInline(admin.TabularInline):
    model = Choice
    formset = ChoiceInlineFormSet
    fields = ["order", "text", "is_correct"]
    ordering = ["order", "id"]

    def get_extra(self, request: HttpRequest, obj: Question | None = None, **kwargs: Any) -> int:
        return 4 if obj is None else 1

    def _editable(self, question: Question | None) -> bool:
        return question is None or question.contest.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Question | None = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Question | None = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Question | None = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class QuestionPageForm(QuestionForm):
    class Meta(QuestionForm.Meta):
        fields = ["contest", *QuestionForm.Meta.fields]


@admin.register(Question)
class QuestionAdmin(ServiceSavesAdmin):
    form = QuestionPageForm
    inlines = [ChoiceInline]
    list_display = ["__str__", "contest", "type", "points", "time_limit_seconds"]
    list_filter = ["type", "contest__status"]
    search_fields = ["text", "contest__title", "contest__join_code"]
    list_select_related = ["contest"]
    ordering = ["contest", "order"]

    def get_readonly_fields(self, request: HttpRequest, obj: Question | None = None) -> list[str]:
        return ["contest"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "contest":
            kwargs["queryset"] = Contest.objects.filter(status=Contest.Status.UPCOMING)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        contest = Contest.objects.filter(pk=_uuid_or_none(initial.get("contest"))).first()
        if contest is not None:
            last = contest.questions.order_by("-order").values_list("order", flat=True).first()
            initial["order"] = (last or 0) + 1
        return initial

    def has_change_permission(self, request: HttpRequest, obj: Question | None = None) -> bool:
        editable = obj is None or obj.contest.is_editable
        return editable and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Question | None = None) -> bool:
        editable = obj is None or obj.contest.is_editable
        return editable and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete would skip question_delete's lock: questions go one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: Question, form: Any, change: bool) -> None:
        # The contest row stays locked while the choices are saved after it.
        services.question_save(question=obj)

    def delete_model(self, request: HttpRequest, obj: Question) -> None:
        services.question_delete(question=obj)

    def _back_to_contest(self, request: HttpRequest, question: Question) -> HttpResponse | None:
        """After "Save": the contest page; after "Save and add another": a new question of
        the same contest."""
        if "_addanother" in request.POST:
            url = reverse("admin:contests_question_add")
            return HttpResponseRedirect(f"{url}?contest={question.contest_id}")
        if "_continue" in request.POST or "_popup" in request.POST:
            return None
        return HttpResponseRedirect(
            reverse("admin:contests_contest_change", args=[question.contest_id])
        )

    def response_add(self, request: HttpRequest, obj: Question, post_url_continue: Any = None):
        response = super().response_add(request, obj, post_url_continue)
        return self._back_to_contest(request, obj) or response

    def response_change(self, request: HttpRequest, obj: Question):
        response = super().response_change(request, obj)
        return self._back_to_contest(request, obj) or response


def _uuid_or_none(value: Any) -> str | None:
    try:
        return str(Contest._meta.pk.to_python(value)) if value else None
    except ValidationError:
        return None


# --- Results (read-only) ---------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "user", "contest", "score", "registered_at"]
    list_filter = ["contest"]
    search_fields = ["display_name", "user__username"]
    list_select_related = ["user", "contest"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return super().get_queryset(request).annotate(score=Sum("submissions__points_awarded"))

    @admin.display(description="Score", ordering="score")
    def score(self, participant: Participant) -> int:
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


# The admin's "View site" link: the home page of the web app.
admin.site.site_url = "/"
