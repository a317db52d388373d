"""Errors of the leaderboard's REST endpoints (rendered like every other ContestError)."""

from __future__ import annotations

from contests.errors import ContestError


class StandingsNotFinal(ContestError):
    code = "CONTEST_NOT_COMPLETED"
    http_status = 409
    default_message = "Final standings exist once the contest has completed."
