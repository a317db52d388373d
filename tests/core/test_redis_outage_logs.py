"""core.redis.TransientRedisErrors: a Redis outage is one warning line, a fault keeps its
traceback."""

from __future__ import annotations

import logging
import sys

from redis.exceptions import ConnectionError as RedisConnectionError

from core.redis import TransientRedisErrors


def _record(level: int, exc: BaseException, logger: str = "celery.worker") -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(logger, level, __file__, 1, "Failed: %s", ("x",), exc_info)


def _while_the_connection_was_lost(exc: BaseException) -> BaseException:
    try:
        try:
            raise RedisConnectionError("Connection closed by server.")
        except RedisConnectionError:
            raise exc  # noqa: B904 (the implicit context is the point)
    except BaseException as raised:
        return raised


def test_it_shortens_a_lost_connection_to_one_warning_line():
    record = _record(logging.ERROR, RedisConnectionError("Connection refused."))
    assert TransientRedisErrors().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert record.getMessage() == "Failed: x (ConnectionError: Connection refused.)"


def test_it_shortens_celerys_critical_report_of_a_task_it_could_not_acknowledge():
    lost = RedisConnectionError("Connection closed by server.")
    record = _record(logging.CRITICAL, lost, logger="celery.worker.request")
    assert TransientRedisErrors().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)


def test_it_keeps_the_traceback_of_a_worker_giving_up_after_the_broker_stayed_away():
    lost = RedisConnectionError("Connection refused.")
    record = _record(logging.CRITICAL, lost)
    assert TransientRedisErrors().filter(record)
    assert record.levelname == "CRITICAL"
    assert record.exc_info is not None and record.exc_info[1] is lost


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
