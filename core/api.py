"""What every app's REST API shares: the JSON error format and its exception handler,
strict input serializers, model permissions, path ids.

Every error body is `{"code": "<CODE>", "detail": "<message>"}`; invalid input adds
`"errors": {"<path>": ["<message>", ...]}` keyed by dotted path ("questions.2.choices").
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError, refusal_of

logger = logging.getLogger(__name__)

# --- Errors ------------------------------------------------------------------------------

VALIDATION_ERROR = "VALIDATION_ERROR"
NON_FIELD = "non_field_errors"


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. CONTEST_LOCKED.")
    detail = serializers.CharField(help_text="Human-readable.")
    # DRF's metaclass moves declared fields out of the class, so this field does not
    # replace Serializer.errors; the stubs cannot tell.
    errors = serializers.DictField(  # type: ignore[assignment]
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
    refusal = refusal_of(exc)
    if refusal is not None:
        set_rollback()
        return Response(
            {"code": refusal.code, "detail": refusal.message}, status=refusal.http_status
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {
                "code": "REQUEST_TOO_LARGE",
                "detail": f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
                "bytes.",
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
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
            # Serializer.to_internal_value raises its errors by field name.
            assert isinstance(exc.detail, dict)
            raise serializers.ValidationError({**exc.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class TextField(serializers.CharField):
    """A string, and only a string: DRF's CharField turns a JSON number into text, so a
    client that sends `"title": 42` would be told nothing (the schema says string)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class QuerySerializer(serializers.Serializer):
    """Query parameters, read as the schema describes them: DRF takes `?status=` (empty)
    for "not given", so a client's mistake would silently widen its result; here it is a
    field error like any other."""

    def to_internal_value(self, data: Any) -> Any:
        names = [str(name) for name in self.fields]
        blank = {
            name: ["This field may not be blank."]
            for name in names
            if hasattr(data, "getlist") and "" in data.getlist(name)
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class StrictPageNumberPagination(PageNumberPagination):
    """`page_size` as the schema says: an integer from 1 to `max_page_size`; anything
    else is a 400 naming it (DRF's own pagination silently uses its default instead)."""

    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        maximum = self.max_page_size or self.page_size or 1
        if len(raw) != 1 or not raw[0].isdigit() or not 1 <= int(raw[0]) <= maximum:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"An integer from 1 to {maximum}."]}
            )
        return int(raw[0])


def path_uuid(raw: str, not_found: type[DomainError]) -> uuid.UUID:
    """A UUID from a URL path segment; any other text names no object (404)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found() from None


# --- Permissions ---------------------------------------------------------------------------


class HasModelPermission(BasePermission):
    """Staff holding the model permission that the admin requires for the same action
    (contests.add_contest to create, contests.change_contest to edit and to run)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_staff and user.has_perm(self.permission))
