"""A question's own page, with its choices (the contest's page edits them too)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from contests import services
from contests.admin.forms import ChoiceRules, QuestionForm, ServiceSavesAdmin, decimal_as_typed
from contests.models import Choice, Contest, Question


class ChoiceInline(admin.TabularInline):
    model = Choice
    formset = ChoiceRules
    fields = ["text", "is_correct"]
    ordering = ["order", "id"]

    def get_extra(self, request: HttpRequest, obj: Question | None = None, **kwargs: Any) -> int:
        return 4 if obj is None else 1

    class Media:
        js = ["contests/admin/question_types.js"]

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

    def get_fields(self, request: HttpRequest, obj: Question | None = None) -> list:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not obj.contest.is_editable:
            # Read-only: numbers as typed (1440), not as their column pads them.
            shown = {"numeric_answer": "numeric_answer_shown"}
            shown["numeric_tolerance"] = "numeric_tolerance_shown"
            fields = [
                shown.get(field, field) if isinstance(field, str) else field for field in fields
            ]
        return fields

    @admin.display(description="Numeric answer")
    def numeric_answer_shown(self, question: Question) -> str:
        return decimal_as_typed(question.numeric_answer) or "-"

    @admin.display(description="Numeric tolerance")
    def numeric_tolerance_shown(self, question: Question) -> str:
        return decimal_as_typed(question.numeric_tolerance)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "contest":
            kwargs["queryset"] = Contest.objects.filter(status=Contest.Status.UPCOMING)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_changeform_initial_data(request)
        contest_id = _uuid_or_none(initial.get("contest"))
        contest = Contest.objects.filter(pk=contest_id).first() if contest_id else None
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

    def response_add(
        self, request: HttpRequest, obj: Question, post_url_continue: Any = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        return self._back_to_contest(request, obj) or response

    def response_change(self, request: HttpRequest, obj: Question) -> HttpResponse:
        response = super().response_change(request, obj)
        return self._back_to_contest(request, obj) or response


def _uuid_or_none(value: Any) -> str | None:
    try:
        return str(Contest._meta.pk.to_python(value)) if value else None
    except ValidationError:
        return None
