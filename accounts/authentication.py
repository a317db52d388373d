"""simplejwt's token authentication, for the REST API and the WebSocket handshake alike."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework_simplejwt.authentication import JWTAuthentication as BaseJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken


class JWTAuthentication(BaseJWTAuthentication):
    """A validly signed token whose user id is not a user id at all (not a UUID) is an
    invalid token: simplejwt lets the ORM's ValidationError through (a 500 at the
    WebSocket handshake, a 400 from the API)."""

    def get_user(self, validated_token: Any) -> Any:
        try:
            return super().get_user(validated_token)
        except (ValidationError, ValueError, TypeError):
            raise InvalidToken("Token contained no recognizable user identification") from None
