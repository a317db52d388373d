"""Celery's broker keys and pub/sub channels carry REDIS_KEY_PREFIX, like every other key
(kombu's global_keyprefix)."""

from __future__ import annotations

import pytest
from django.conf import settings

from contestsite.celery import app
from core.redis import get_redis
from tests.servers import celery_worker, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_worker_keeps_its_queues_and_bindings_under_the_prefix_and_still_answers():
    worker = celery_worker(child_env()).start()
    try:
        worker.wait_for_output(" ready.", timeout=60)
        # The remote-control broadcast (pidbox) goes through prefixed pub/sub channels:
        # the worker only hears it if both sides prefix alike.
        replies = app.control.ping(timeout=5)
        app.send_task("contests.tasks.contest_tick")
        keys = get_redis().keys("*")
    finally:
        worker.stop()

    assert replies and all("ok" in reply for reply in replies[0].values())
    kombu_keys = [key for key in keys if "kombu" in key or "celery" in key]
    assert any("_kombu.binding.celery" in key for key in kombu_keys)
    assert all(key.startswith(f"{settings.REDIS_KEY_PREFIX}:") for key in keys), keys
