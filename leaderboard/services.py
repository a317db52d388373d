"""Leaderboard writes (filled in by the leaderboard work)."""

from __future__ import annotations


def leaderboard_record(*, contest_id: object, participant_id: object) -> None:
    """Write one participant's absolute standing to the live leaderboard."""
