"""Fixtures shared by the reliability tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture
def errors_logged(caplog):
    """Every log record at ERROR or above, or with a traceback, of the test so far."""
    caplog.set_level(logging.INFO)

    def records() -> list[str]:
        return [
            f"{r.levelname} {r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info is not None
        ]

    return records
