"""Keeping secrets out of logs, and two fixes to daphne 4.2.3 (installed when daphne runs).

- The WebSocket JWT travels in the query string. daphne's access log writes the full URI
  of plain HTTP requests (a browser opening the WebSocket URL, a proxy's health check), and
  debug logging may print request lines: both go through `redact` (core.logs). The access
  log goes through the `daphne.access` logger instead of stdout, so it takes the
  configured format (a JSON line under LOG_FORMAT=json) and level (off by default: a
  line per WebSocket event; core.middleware logs each HTTP request).
- daphne drops the `reason` of an ASGI `websocket.close` (django/daphne#374), and closes
  through autobahn's sendClose, which raises for the protocol codes 1008 and 1009 (it
  allows an application only 1000 and 3000-4999). Clients are promised these codes with a
  short reason (docs/PROTOCOL.md), so an open socket is closed with the frame itself,
  the reason truncated to the 123 bytes a close frame can carry.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from core.logs import REDACTED, RedactCredentials, redact

__all__ = ["REDACTED", "RedactCredentials", "install", "redact"]

access_logger = logging.getLogger("daphne.access")


def install() -> None:
    """Redact every handler of the root logger; patch daphne if it is the server."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactCredentials) for f in handler.filters):
            handler.addFilter(RedactCredentials())
    if "daphne.server" in sys.modules:
        _patch_daphne()


def _patch_daphne() -> None:
    from autobahn.util import encode_truncate
    from daphne.access import AccessLogGenerator
    from daphne.ws_protocol import WebSocketProtocol

    if getattr(WebSocketProtocol.handle_reply, "passes_close_reason", False):
        return
    handle_reply = WebSocketProtocol.handle_reply

    def redacted_write_entry(
        self: Any,
        host: Any,
        date: Any,
        request: str,
        status: Any = None,
        length: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        access_logger.info("%s %s %s %s", host, redact(request), status or "-", length or "-")

    def handle_reply_with_reason(self: Any, message: dict[str, Any]) -> None:
        if message.get("type") == "websocket.close" and self.state == self.STATE_OPEN:
            reason = message.get("reason")
            self.sendCloseFrame(
                code=message.get("code") or 1000,
                reasonUtf8=encode_truncate(reason, 123) if reason else None,
            )
            return
        handle_reply(self, message)

    # The mark that install() checks above; mypy has no notion of attributes set on a
    # function.
    handle_reply_with_reason.passes_close_reason = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = redacted_write_entry
    WebSocketProtocol.handle_reply = handle_reply_with_reason
