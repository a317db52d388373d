"""Errors of the leaderboard (core.errors.DomainError: rendered like every other)."""

from __future__ import annotations

from core.errors import DomainError


class StandingsNotFinal(DomainError):
    code = "CONTEST_NOT_COMPLETED"
    http_status = 409
    default_message = "Final standings exist once the contest has completed."
