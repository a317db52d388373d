"""The error type every app raises for a refusal a client must hear about.

Each subclass carries its protocol error code (docs/PROTOCOL.md) and HTTP status, so the
WebSocket consumer and the REST API translate it without knowing the rule behind it.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "INTERNAL_ERROR"
    http_status = 400
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
