"""Writes of the web pages: the host screen's socket token."""

from __future__ import annotations

from datetime import timedelta

from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

# The token is only checked when a socket opens (docs/PROTOCOL.md), and the host page asks
# for a new one before every (re)connection: a short life keeps a leaked URL harmless.
SESSION_TOKEN_LIFETIME = timedelta(minutes=5)


def session_token_issue(*, user: User) -> AccessToken:
    """A short-lived access token for a user signed in with a session (the admin's)."""
    token = AccessToken.for_user(user)
    lifetime = min(SESSION_TOKEN_LIFETIME, api_settings.ACCESS_TOKEN_LIFETIME)
    token.set_exp(lifetime=lifetime)
    return token
