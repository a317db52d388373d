"""What the contest admin's pages share: forms whose save a service may refuse, and
admins whose saves and deletes call services."""

from __future__ import annotations

from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from contests import services
from contests.models import Choice, Contest, Question
from core.errors import DomainError


class LinesField(forms.Field):
    """A list of strings, edited one per line (text questions' accepted answers)."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 30})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = "" if value in self.empty_values else str(value)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(self.prepare_value(initial or [])) != self.to_python(data)


class RefusableForm(forms.ModelForm):
    """A form whose save a service may still refuse; ServiceSavesAdmin then shows it again
    with the service's errors (`refused`)."""

    refused: ValidationError | None = None

    def clean(self) -> dict[str, Any] | None:
        cleaned_data = super().clean()
        if self.refused is not None:
            errors = getattr(self.refused, "message_dict", {None: self.refused.messages})
            for field, field_errors in errors.items():
                self.add_error(field if field in self.fields else None, field_errors)
        return cleaned_data


# The refusal of the save being shown again, for get_form to hand to the form.
_refused_by_service: ContextVar[ValidationError | None] = ContextVar(
    "refused_by_service", default=None
)


def marked_for_deletion(form: forms.BaseForm) -> bool:
    """Whether a formset's form is ticked for deletion: the test of Django's
    BaseFormSet._should_delete_form, which is private (and not in the type stubs)."""
    return bool(form.cleaned_data.get(DELETION_FIELD_NAME, False))


class ServiceSavesAdmin(admin.ModelAdmin):
    """An admin whose save_model and delete_model call services. A refusal undoes the
    whole save (Django's transaction around it): a DomainError (e.g. the contest has
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
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        except ValidationError as exc:
            refused = _refused_by_service.set(exc)
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            finally:
                _refused_by_service.reset(refused)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        # modelform_factory subclasses self.form, a RefusableForm in the admins here.
        assert issubclass(form, RefusableForm)
        # A class made for this request (modelform_factory), so this stays with it.
        form.refused = _refused_by_service.get()
        return form

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )


def decimal_as_typed(value: Any) -> str:
    """1440, not 1440.000000: a Decimal without the zeros its column pads it with."""
    if not isinstance(value, Decimal):
        return "" if value is None else str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


class DecimalAsTypedInput(forms.NumberInput):
    def format_value(self, value: Any) -> str | None:
        return decimal_as_typed(value) or None


class QuestionForm(RefusableForm):
    """A question of any type. Fields of the other types are cleared on save (the page
    hides them: contests/static/contests/admin/question_types.js)."""

    accepted_answers = LinesField(
        required=False, help_text="Text questions: the accepted answers, one per line."
    )

    class Meta:
        model = Question
        fields = list(services.QUESTION_FIELDS)
        widgets = {
            "text": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            "numeric_answer": DecimalAsTypedInput(attrs={"step": "any"}),
            "numeric_tolerance": DecimalAsTypedInput(attrs={"step": "any"}),
            "points": forms.NumberInput(attrs={"style": "width: 6em"}),
            "time_limit_seconds": forms.NumberInput(attrs={"style": "width: 5em"}),
            "order": forms.NumberInput(attrs={"style": "width: 4em"}),
        }

    def clean(self) -> dict[str, Any] | None:
        cleaned_data = super().clean()
        question_type = self.cleaned_data.get("type")
        if question_type is not None:
            if question_type != Question.Type.NUMERIC:
                self.cleaned_data["numeric_answer"] = None
                self.cleaned_data["numeric_tolerance"] = Decimal("0")
            if question_type != Question.Type.TEXT:
                self.cleaned_data["accepted_answers"] = []
        return cleaned_data


class ChoiceRules(BaseInlineFormSet):
    """A question's choices: validated together against the question's type (the
    question form's, a changed type included), ordered as their rows, and deleted when
    the question's type has none."""

    def _has_no_choices(self) -> bool:
        return self.instance.type not in Question.CHOICE_TYPES

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms) or self._has_no_choices():
            return
        parent = getattr(self, "parent_form", None)
        if parent is not None and (not parent.has_changed() and parent.instance._state.adding):
            return  # a blank question row: nothing is saved
        if parent is not None and marked_for_deletion(parent):
            return
        choices = [
            (form.cleaned_data["text"], form.cleaned_data.get("is_correct", False))
            for form in self.forms
            if form.cleaned_data and not marked_for_deletion(form)
        ]
        Question.validate_choices(self.instance.type, choices)

    def save_new(self, form: forms.ModelForm, commit: bool = True) -> Choice:
        # After the rows already there, in the order of the rows.
        question = self.instance
        taken = [] if question._state.adding else [c.order for c in question.choices.all()]
        form.instance.order = max([0, *taken, *self._new_orders]) + 1
        self._new_orders.append(form.instance.order)
        return super().save_new(form, commit)

    def save(self, commit: bool = True) -> list[Choice]:
        if self._has_no_choices():
            # The question's type changed to one without choices: the rows go with it.
            self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
            if not self.instance._state.adding:
                self.instance.choices.all().delete()
            return []
        self._new_orders: list[int] = []
        return super().save(commit)


def link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


class ContestForm(RefusableForm):
    """The contest's rules beyond its fields' own are the services' (ServiceSavesAdmin)."""

    class Meta:
        model = Contest
        fields = list(services.CONTEST_FIELDS)
