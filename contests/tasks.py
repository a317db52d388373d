"""Celery tasks of the contest clock: thin wrappers that call one service.

Beat sends `contest_tick` every TIMER_INTERVAL_SECONDS (settings.CELERY_BEAT_SCHEDULE).
The tick holds no state between runs: deadlines are instants in PostgreSQL, so a
restarted worker, a retried task or a second beat continue the contests where they are.
"""

from __future__ import annotations

from celery import shared_task

from contests import services
from core import metrics


@shared_task(name="contests.tasks.contest_tick", ignore_result=True)
@metrics.timed_tick
def contest_tick() -> None:
    services.contest_tick()
