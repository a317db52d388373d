"""Celery tasks of the way out: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task

from realtime.outbound import relay


@shared_task(name="realtime.tasks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> None:
    """Beat runs this every OUTBOX_SWEEP_SECONDS (settings.PERIODIC_TASKS)."""
    relay.sweep()
