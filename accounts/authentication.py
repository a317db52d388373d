"""simplejwt's token authentication, for the REST API and the WebSocket handshake alike."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication as BaseJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from core import logs


class JWTAuthentication(BaseJWTAuthentication):
    """simplejwt's bearer authentication. The user's id goes on the request's log lines.
    A validly signed token whose user id is not a user id at all (not a UUID) is an
    invalid token: simplejwt lets the ORM's ValidationError through (a 500 at the
    WebSocket handshake, a 400 from the API)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            logs.bind(user_id=result[0].pk)
        return result

    def get_user(self, validated_token: Any) -> Any:
        try:
            return super().get_user(validated_token)
        except (ValidationError, ValueError, TypeError):
            raise InvalidToken("Token contained no recognizable user identification") from None
