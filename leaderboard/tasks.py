"""Celery tasks of the leaderboard: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from leaderboard import services


@shared_task(name="leaderboard.tasks.leaderboard_flush")
def leaderboard_flush() -> None:
    """Beat runs this every LEADERBOARD_INTERVAL_SECONDS (settings.CELERY_BEAT_SCHEDULE)."""
    services.leaderboard_flush()
