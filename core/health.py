"""GET /api/health/: is this process able to reach the database and Redis?"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.redis import get_redis

logger = logging.getLogger(__name__)


def system_health() -> dict[str, str]:
    """ "ok" or "error" for the database and Redis; Redis is "disabled" without REDIS_URL."""
    health = {"database": "ok", "redis": "disabled"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("Health check: the database is not reachable")
        health["database"] = "error"
    client = get_redis()
    if client is not None:
        try:
            client.ping()
            health["redis"] = "ok"
        except Exception:  # redis-py raises ConnectionError, TimeoutError, OSError subclasses
            logger.exception("Health check: Redis is not reachable")
            health["redis"] = "error"
    return health


class HealthSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=["ok", "error"])
    redis = serializers.ChoiceField(
        choices=["ok", "error", "disabled"], help_text="disabled: no REDIS_URL (embedded mode)."
    )


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Database and Redis status (503 when one is down)",
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        health = system_health()
        healthy = all(value in ("ok", "disabled") for value in health.values())
        return Response(
            health, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE
        )
