"""The one API endpoint of the web pages: a socket token for the admin's session."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.api import ErrorSerializer
from web.services import session_token_issue


class SessionTokenOutputSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="A JWT access token for the WebSocket.")
    expires_in = serializers.IntegerField(help_text="Seconds until the token expires.")


class SessionTokenView(APIView):
    # Only the session: this endpoint turns the admin's cookie into a token, and the
    # session authentication enforces CSRF on the POST.
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]

    @extend_schema(
        summary="Get a short-lived access token for the signed-in staff session",
        description=(
            "For the host page: an organizer signed in to the admin gets a token for the "
            "WebSocket without a second sign-in. Session cookie and CSRF token required."
        ),
        request=None,
        responses={200: SessionTokenOutputSerializer, 403: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        # IsAdminUser has refused anonymous requests before the view runs.
        assert isinstance(request.user, User)
        token = session_token_issue(user=request.user)
        data = {"access": str(token), "expires_in": token["exp"] - token["iat"]}
        return Response(SessionTokenOutputSerializer(data).data)
