"""The contest page's questions, each with its choices nested under it (django-nested-admin),
so a contest of any question types is authored on one page and saved at once.

Each question row shows the fields of its type only (question_types.js); orders need no
typing: a question row left without an order comes after the others, in row order, and
choices are kept in the order of their rows.
"""

from __future__ import annotations

from typing import Any

import nested_admin
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest

from contests.admin.forms import (
    ChoiceRules,
    QuestionForm,
    decimal_as_typed,
    marked_for_deletion,
)
from contests.models import Choice, Contest, Question
from leaderboard.models import FinalStanding

# Orders are moved out of the way before a formset saves, so that questions can swap
# places in one save without tripping the (contest, order) unique constraint.
ORDER_SHIFT = 1_000_000
# Choice rows a new question starts with (players see up to four answers at a glance).
NEW_QUESTION_CHOICES = 4


class ChoiceFormSet(ChoiceRules, nested_admin.formsets.NestedInlineFormSet):
    pass


class ChoiceInline(nested_admin.NestedTabularInline):
    model = Choice
    formset = ChoiceFormSet
    fields = ["text", "is_correct"]
    ordering = ["order", "id"]
    is_sortable = False
    classes = ["question-choices"]
    verbose_name_plural = "Choices (in this order; tick the correct ones)"

    def get_extra(self, request: HttpRequest, obj: Question | None = None, **kwargs: Any) -> int:
        return NEW_QUESTION_CHOICES if obj is None or obj._state.adding else 1

    def _editable(self, question: Question | None) -> bool:
        return question is None or question._state.adding or question.contest.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(_question(obj)) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(_question(obj)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(_question(obj)) and super().has_delete_permission(request, obj)


def _question(obj: Any) -> Question | None:
    # nested-admin passes the question of the row, Django's checks the contest.
    return obj if isinstance(obj, Question) else None


class QuestionFormSet(nested_admin.formsets.NestedInlineFormSet):
    """The contest's questions as one list. Django's formset checks that orders are unique
    across the rows (so rows may swap orders; see save); rows without an order get the
    next ones, in row order."""

    def clean(self) -> None:
        super().clean()
        live = [
            form
            for form in self.forms
            if not form.errors and form.has_changed() and not marked_for_deletion(form)
        ]
        # From what was typed, not from cleaned_data: the formset may be cleaned twice.
        blank = [form for form in live if _typed(form, "order") == ""]
        typed = [
            form.cleaned_data["order"]
            for form in self.forms
            if form not in blank and not marked_for_deletion(form) and "order" in form.cleaned_data
        ]
        following = max([0, *(order for order in typed if order is not None)]) + 1
        for form in blank:
            form.cleaned_data["order"] = form.instance.order = following
            following += 1
        for i, form in enumerate(self.forms):
            if form.has_changed() or not form.instance._state.adding:
                continue
            # A blank row whose choices were filled in: say so rather than drop them.
            nested = getattr(form, "nested_formsets", [])
            if any(f.has_changed() for formset in nested for f in formset.forms):
                raise ValidationError(f"Question row {i + 1} has choices but no text.")

    def save(self, commit: bool = True) -> list[Question]:
        moving = [
            form.instance.pk
            for form in self.initial_forms
            if "order" in form.changed_data or marked_for_deletion(form)
        ]
        Question.objects.filter(pk__in=moving).update(order=F("order") + ORDER_SHIFT)
        return super().save(commit)


def _typed(form: forms.BaseForm, field: str) -> str:
    return str(form.data.get(form.add_prefix(field), "")).strip()


class QuestionForContestForm(QuestionForm):
    class Meta(QuestionForm.Meta):
        widgets = {
            **QuestionForm.Meta.widgets,
            "order": forms.NumberInput(attrs={"style": "width: 4em", "placeholder": "next"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Empty (the placeholder says "next"): after the others, in row order.
        self.fields["order"].required = False
        if self.instance._state.adding:
            self.initial["order"] = None

    def validate_unique(self) -> None:
        """(contest, order) is checked by the formset over all rows at once; checked row
        by row against the database, two rows could never swap their orders."""


# One line per group of fields; the fields of the other types are hidden by
# question_types.js (each line is a div.form-row.field-<first field>).
QUESTION_LAYOUT = (
    ("order", "type", "points", "time_limit_seconds"),
    "text",
    ("numeric_answer", "numeric_tolerance"),
    "accepted_answers",
)
READ_ONLY_LAYOUT = (
    ("order", "type", "points", "time_limit_seconds"),
    "text",
    ("numeric_answer_shown", "numeric_tolerance_shown"),
    "accepted_answers",
)


class QuestionInline(nested_admin.NestedStackedInline):
    model = Question
    form = QuestionForContestForm
    formset = QuestionFormSet
    inlines = [ChoiceInline]
    ordering = ["order", "id"]
    extra = 1
    is_sortable = False
    classes = ["contest-questions"]

    class Media:
        js = ["contests/admin/question_types.js"]
        css = {"all": ["contests/admin/contest.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: Contest | None = None) -> list:
        layout = QUESTION_LAYOUT if self._editable(obj) else READ_ONLY_LAYOUT
        return [(None, {"fields": layout})]

    def get_readonly_fields(self, request: HttpRequest, obj: Contest | None = None) -> list:
        return [] if self._editable(obj) else ["numeric_answer_shown", "numeric_tolerance_shown"]

    @admin.display(description="Numeric answer")
    def numeric_answer_shown(self, question: Question) -> str:
        return decimal_as_typed(question.numeric_answer) or "-"

    @admin.display(description="Numeric tolerance")
    def numeric_tolerance_shown(self, question: Question) -> str:
        return decimal_as_typed(question.numeric_tolerance)

    def _editable(self, contest: Contest | None) -> bool:
        return contest is None or contest.is_editable

    def has_add_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Contest | None = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class FinalStandingInline(nested_admin.NestedTabularInline):
    model = FinalStanding
    fields = ["rank", "participant", "score", "correct_count", "total_response_ms"]
    ordering = ["rank"]
    verbose_name_plural = "Final standings"
    extra = 0
    can_delete = False
    is_sortable = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[FinalStanding]:
        return super().get_queryset(request).select_related("participant")
