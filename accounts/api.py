"""Sign-up and JWT endpoints under /api/auth/."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView
from rest_framework_simplejwt.views import TokenRefreshView as BaseTokenRefreshView

from accounts.models import User
from accounts.services import user_register
from core.api import ErrorSerializer, TextField


class UserRegisterInputSerializer(serializers.Serializer):
    username = TextField(max_length=150)
    # Passwords are taken as typed: leading or trailing spaces are part of them.
    password = TextField(max_length=128, trim_whitespace=False, write_only=True)
    display_name = TextField(max_length=50, required=False, allow_blank=True)


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name"]


class UserRegisterView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Create an account",
        request=UserRegisterInputSerializer,
        responses={201: UserOutputSerializer, 400: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = UserRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Get a JWT access and refresh token",
    responses={200: TokenObtainPairSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
)
class TokenObtainView(TokenObtainPairView):
    """simplejwt's view, with its error responses in the schema."""


@extend_schema(
    summary="Get a new access token from a refresh token",
    responses={200: TokenRefreshSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
)
class TokenRefreshView(BaseTokenRefreshView):
    """simplejwt's view, with its error responses in the schema."""
