"""core.redis.TransientRedisErrors: a Redis outage is one warning line, a fault keeps its
traceback."""

from __future__ import annotations

import logging
import sys

from redis.exceptions import ConnectionError as RedisConnectionError

from core.redis import TransientRedisErrors


def _record(level: int, exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord("celery.worker", level, __file__, 1, "Failed: %s", ("x",), exc_info)


def _while_the_connection_was_lost(exc: BaseException) -> BaseException:
    try:
        try:
            raise RedisConnectionError("Connection closed by server.")
        except RedisConnectionError:
            raise exc  # noqa: B904 (the implicit context is the point)
    except BaseException as raised:
        return raised


def test_it_shortens_a_lost_connection_to_one_warning_line_even_when_logged_as_critical():
    record = _record(logging.CRITICAL, RedisConnectionError("Connection refused."))
    assert TransientRedisErrors().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert record.getMessage() == "Failed: x (ConnectionError: Connection refused.)"


def test_it_shortens_an_error_raised_while_handling_a_lost_connection():
    record = _record(logging.ERROR, _while_the_connection_was_lost(RuntimeError("scheduling")))
    assert TransientRedisErrors().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)


def test_it_keeps_the_traceback_of_a_worker_giving_up_while_handling_a_lost_connection():
    crash = _while_the_connection_was_lost(AttributeError("'NoneType' has no 'hostname'"))
    record = _record(logging.CRITICAL, crash)
    assert TransientRedisErrors().filter(record)
    assert record.levelname == "CRITICAL"
    assert record.exc_info is not None and record.exc_info[1] is crash
