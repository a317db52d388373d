"""What the contest admin's pages share: forms whose save a service may refuse, and
admins whose saves and deletes call services."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from contests import services
from contests.models import Contest, Question
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


class QuestionForm(RefusableForm):
    accepted_answers = LinesField(
        required=False, help_text="Text questions: the accepted answers, one per line."
    )

    class Meta:
        model = Question
        fields = list(services.QUESTION_FIELDS)
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 40})}


def link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


class ContestForm(RefusableForm):
    """The contest's rules beyond its fields' own are the services' (ServiceSavesAdmin)."""

    class Meta:
        model = Contest
        fields = list(services.CONTEST_FIELDS)
