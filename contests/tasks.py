"""Celery tasks of the contest clock: thin wrappers that call one service.

Beat sends `contest_tick` every TIMER_INTERVAL_SECONDS (settings.CELERY_BEAT_SCHEDULE).
`contest_advance` is queued by each transition, after its commit, with an ETA at the
instant of the next one (core.periodic.run_task_at), so transitions happen on time; the
tick stays the safety net. Neither holds state between runs: deadlines are instants in
PostgreSQL, so a restarted worker, a retried or duplicated task or a second beat continue
the contests where they are.
"""

from __future__ import annotations

from celery import shared_task

from contests import services
from core import metrics


@shared_task(name="contests.tasks.contest_tick", ignore_result=True)
@metrics.timed_tick
def contest_tick() -> None:
    services.contest_tick()


@shared_task(name="contests.tasks.contest_advance", ignore_result=True)
def contest_advance(contest_id: str, attempt: int = 0) -> None:
    services.contest_advance(contest_id=contest_id, attempt=attempt)
