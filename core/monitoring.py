"""GET /metrics: the Prometheus text format of every family in core.metrics.

With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` is served; keep the
endpoint on an internal network either way (docs/OPERATIONS.md).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from core import metrics


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            response = JsonResponse(
                {"code": "NOT_AUTHENTICATED", "detail": "GET /metrics needs the metrics token."},
                status=401,
            )
            response["WWW-Authenticate"] = "Bearer"
            return response
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
