"""Credentials never reach a log line (the daphne side is in test_daphne.py; both log
formats in tests/core/test_logs.py)."""

from __future__ import annotations

import logging

from realtime.daphne_compat import RedactCredentials, redact

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl"


def test_it_redacts_credential_parameters_and_anything_shaped_like_a_jwt():
    assert redact(f"GET /ws/contest?token={JWT}") == "GET /ws/contest?token=[redacted]"
    assert redact("GET /x?a=1&token=abc&b=2") == "GET /x?a=1&token=[redacted]&b=2"
    assert redact("/x?refresh=abc;access=def") == "/x?refresh=[redacted];access=[redacted]"
    assert redact(f"Bearer {JWT} failed") == "Bearer [redacted] failed"
    assert redact("GET /api/contests/?limit=10") == "GET /api/contests/?limit=10"


def test_the_log_filter_rewrites_a_record_that_carries_a_token():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "request %s", (f"?token={JWT}",), None
    )
    assert RedactCredentials().filter(record)
    assert record.getMessage() == "request ?token=[redacted]"
