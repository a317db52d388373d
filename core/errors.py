"""The error type every app raises for a refusal a client must hear about.

Each subclass carries its protocol error code (docs/PROTOCOL.md) and HTTP status, so the
WebSocket consumer and the REST API translate it without knowing the rule behind it.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from core.redis import is_transient

logger = logging.getLogger(__name__)


class DomainError(Exception):
    code = "INTERNAL_ERROR"
    http_status = 400
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class ServiceUnavailable(DomainError):
    """The server could not reach what it needs (the database, Redis) in time; nothing was
    stored, and the same request may be sent again."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    default_message = "The server is briefly unavailable; nothing was stored. Try again."


def refusal_of(failure: BaseException) -> DomainError | None:
    """What a failure is for the client: a refusal as it is; the database or Redis out of
    reach as ServiceUnavailable (the work rolled back: nothing was stored, retrying is
    safe); None for anything else (a bug: INTERNAL_ERROR, logged with its traceback)."""
    if isinstance(failure, DomainError):
        return failure
    if isinstance(failure, (OperationalError, InterfaceError)) or is_transient(failure):
        logger.warning("Service unavailable: %s: %s", type(failure).__name__, failure)
        return ServiceUnavailable()
    return None
