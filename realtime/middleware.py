"""WebSocket handshake authentication: Origin, then the JWT in `?token=`, then the user.

The middleware decides but does not close: it puts `user` and `refusal` in the scope, and
the consumer accepts and then closes with the refusal's code and reason, because a close
code and reason can only reach the client after the WebSocket is accepted (a refusal
before that is a bare HTTP 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import JWTAuthentication
from accounts.models import User
from realtime.db import run_in_db_thread

CLOSE_INVALID_TOKEN = 4001
CLOSE_TOKEN_EXPIRED = 4002
CLOSE_FORBIDDEN = 4003


@dataclass(frozen=True)
class Refusal:
    code: int
    reason: str


MISSING_TOKEN = Refusal(CLOSE_INVALID_TOKEN, "missing token")
INVALID_TOKEN = Refusal(CLOSE_INVALID_TOKEN, "invalid token")
UNKNOWN_USER = Refusal(CLOSE_INVALID_TOKEN, "unknown user")
TOKEN_EXPIRED = Refusal(CLOSE_TOKEN_EXPIRED, "token expired")
USER_INACTIVE = Refusal(CLOSE_FORBIDDEN, "user inactive")
ORIGIN_NOT_ALLOWED = Refusal(CLOSE_FORBIDDEN, "origin not allowed")
TOO_MANY_CONNECTIONS = Refusal(CLOSE_FORBIDDEN, "too many connections")


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def origin_allowed(origin: str | None) -> bool:
    """Browsers always send Origin; a client without one authenticates by token alone.

    The patterns are Channels' OriginValidator's: WS_ALLOWED_ORIGINS when set, otherwise
    ALLOWED_HOSTS (what AllowedHostsOriginValidator would use).
    """
    if origin is None:
        return True
    patterns = settings.WS_ALLOWED_ORIGINS or settings.ALLOWED_HOSTS
    return OriginValidator(None, patterns).validate_origin(urlparse(origin))


def _token(scope: dict[str, Any]) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[0] if values and values[0] else None


def _user_for(token: AccessToken) -> User | Refusal:
    try:
        user = JWTAuthentication().get_user(token)
    except AuthenticationFailed as exc:
        code = exc.detail.get("code") if isinstance(exc.detail, dict) else None
        if code == "user_inactive":
            return USER_INACTIVE
        if code == "user_not_found":
            return UNKNOWN_USER
        return INVALID_TOKEN
    # simplejwt loads settings.AUTH_USER_MODEL, which is accounts.User.
    assert isinstance(user, User)
    return user


async def authenticate(scope: dict[str, Any]) -> User | Refusal:
    if not origin_allowed(_header(scope, b"origin")):
        return ORIGIN_NOT_ALLOWED
    raw = _token(scope)
    if raw is None:
        return MISSING_TOKEN
    try:
        # simplejwt annotates the encoded token as a Token; it is the JWT's text.
        token = AccessToken(raw)  # type: ignore[arg-type]
    except ExpiredTokenError:
        return TOKEN_EXPIRED
    except TokenError:
        return INVALID_TOKEN
    return await run_in_db_thread(_user_for)(token)


class JWTAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        result = await authenticate(scope)
        if isinstance(result, Refusal):
            scope["user"], scope["refusal"] = AnonymousUser(), result
        else:
            scope["user"], scope["refusal"] = result, None
        return await self.inner(scope, receive, send)
