"""Log records: a text line or a JSON object per record (LOG_FORMAT), carrying the request,
user and contest they concern where known, and never a credential.

The ids live in context variables: a request, a WebSocket's task and a clock transition
each set theirs (`bind`, `bound`), and every record made meanwhile carries them.
Redaction works twice: on the message (RedactCredentials, a filter) and on the whole
formatted line (the formatters), which also covers tracebacks and extra fields.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# A query parameter that carries credentials, and anything shaped like a JWT.
_CREDENTIAL_PARAMETER = re.compile(r"(?i)([?&;](?:token|access|refresh)=)[^&;\s\"']*")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# A password in a form body or JSON document that an error message may quote.
_PASSWORD = re.compile(r"""(?i)(["']?password\d?["']?\s*[:=]\s*["']?)[^"'&\s,}\\]+""")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = _CREDENTIAL_PARAMETER.sub(rf"\1{REDACTED}", text)
    return _PASSWORD.sub(rf"\1{REDACTED}", _JWT.sub(REDACTED, text))


class RedactCredentials(logging.Filter):
    """Rewrites a log record whose message contains a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# --- Ids -----------------------------------------------------------------------------------

_IDS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(name, default=None) for name in ("request_id", "user_id", "contest_id")
}


def bind(**ids: object) -> None:
    """Set ids (request_id, user_id, contest_id) for the rest of this task or thread;
    None clears one."""
    for name, value in ids.items():
        _IDS[name].set(None if value is None else str(value))


@contextlib.contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Set ids for the records made inside the block only."""
    tokens = [
        (_IDS[name], _IDS[name].set(None if v is None else str(v))) for name, v in ids.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_ids() -> dict[str, str]:
    return {name: value for name, var in _IDS.items() if (value := var.get()) is not None}


class ContextFilter(logging.Filter):
    """Puts the known ids on each record (the JSON formatter writes them as fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_ids().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


# --- Formatters ----------------------------------------------------------------------------


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict | list | tuple):
        return redact(str(value))
    return value


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the known ids, extra
    fields, and the traceback as text. Django's `request` extra is an object whose text
    is the URL (query string included), so it is left out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "request"],
            **kwargs,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Before encoding: in the encoded line, quotes inside values are escaped.
        return {key: _redacted(value) for key, value in log_data.items()}

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
