"""The API's bearer authentication (settings.REST_FRAMEWORK). Its own module: DRF imports
it while it loads rest_framework.views, which core.api imports."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import (
    JWTAuthentication as _SimpleJWTAuthentication,
)

from core import logs


class JWTAuthentication(_SimpleJWTAuthentication):
    """simplejwt's bearer authentication; the user's id goes on the request's log lines."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            logs.bind(user_id=result[0].pk)
        return result


class JWTScheme(SimpleJWTScheme):
    """The schema describes it as simplejwt's scheme (drf-spectacular finds extensions by
    the class they name)."""

    target_class = "core.auth.JWTAuthentication"
