"""The OpenAPI description of this app's token authentication."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JWTScheme(SimpleJWTScheme):
    """accounts.authentication.JWTAuthentication is simplejwt's bearer scheme."""

    target_class = "accounts.authentication.JWTAuthentication"
