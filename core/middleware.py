"""HTTP middleware that comes before all others: the request's log context and line, and
the refusal of a Host this server does not serve."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from core import logs

logger = logging.getLogger("core.requests")
security_logger = logging.getLogger("django.security.DisallowedHost")

# A request id a proxy or client sent: used when it looks like one, so lines of several
# services can be joined; anything else is replaced.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Requests that load balancers, Prometheus and browsers make all the time: their success
# is logged at DEBUG only.
_QUIET_PREFIXES = ("/metrics", "/api/health/", f"/{settings.STATIC_URL.strip('/')}/")


class RequestContextMiddleware:
    """Gives the request an id (from X-Request-ID, or new), which every log line of the
    request carries and the response echoes; logs one line per request when it ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        started = time.perf_counter()
        with logs.bound(request_id=request_id, user_id=None, contest_id=None):
            response = self.get_response(request)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                logs.bind(user_id=user.pk)
            _log_request(request, response, (time.perf_counter() - started) * 1000)
        response["X-Request-ID"] = request_id
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        if "contest_id" in view_kwargs:
            logs.bind(contest_id=view_kwargs["contest_id"])


def _log_request(request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
    status = response.status_code
    if status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = logging.WARNING
    elif request.path.startswith(_QUIET_PREFIXES):
        level = logging.DEBUG
    else:
        level = logging.INFO
    # The path only: the query string may carry a token.
    logger.log(
        level,
        "%s %s %s %.1fms",
        request.method,
        request.path,
        status,
        duration_ms,
        extra={"method": request.method, "path": request.path, "status": status},
    )


class AllowedHostsMiddleware:
    """A Host outside ALLOWED_HOSTS gets a JSON 400 like every other API error, and one
    warning line (Django's own handling answers an HTML page and logs a traceback)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost as exc:
            security_logger.warning("%s", exc)
            return JsonResponse(
                {
                    "code": "DISALLOWED_HOST",
                    "detail": "This server does not serve this host name (ALLOWED_HOSTS).",
                },
                status=400,
            )
        return self.get_response(request)


class ChunkedBodyMiddleware:
    """A body sent without a Content-Length (`Transfer-Encoding: chunked`) is read like one
    with it: DRF reads no body at all without that header, and Django checks its size limit
    against the header only. Here the body is read (Django stops past
    DATA_UPLOAD_MAX_MEMORY_SIZE: the API's JSON 413), and its length set for the views."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("CONTENT_LENGTH") or request.method in ("GET", "HEAD", "OPTIONS"):
            return self.get_response(request)
        try:
            # Django stops reading past DATA_UPLOAD_MAX_MEMORY_SIZE.
            body = request.body
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse(
                {
                    "code": "REQUEST_TOO_LARGE",
                    "detail": f"The request body is larger than {limit} bytes.",
                },
                status=413,
            )
        request.META["CONTENT_LENGTH"] = str(len(body))
        return self.get_response(request)
