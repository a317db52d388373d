"""The outbox relay: every committed room event reaches the event log and the room, in
the order of the changes, late rather than never (docs/RELIABILITY.md).

`record` writes a room event to the outbox (realtime.models.OutboxEvent) inside the
transaction of the change it announces, after taking a per-contest lock held until the
commit, so the outbox ids of one contest's events are in commit order. After the commit,
the committing thread publishes the contest's pending events (`publish_pending`). An
event Redis does not take stays pending: a retry thread of this process tries again with
backoff until Redis takes it, and the periodic sweep (`sweep`, run by beat or the
embedded runner) publishes what any process left behind (one that died between its
commit and its publish). Every publisher goes in outbox-id order and the event log
appends an outbox event only once (realtime.outbound.log), so racing publishers neither
reorder nor double an event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models.functions import Now
from django.utils import timezone

from core.locks import advisory_xact_lock
from core.types import ContestId
from realtime.models import OutboxEvent
from realtime.outbound import broadcast

logger = logging.getLogger(__name__)

BATCH = 500
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 2.0
KEEP_PUBLISHED = timedelta(days=1)
PRUNE_BATCH = 5000


def record(contest_id: ContestId, event: str, data: dict[str, Any]) -> None:
    """The room event of a change, in the caller's transaction; published after the
    commit (at once outside a transaction)."""
    cid = str(contest_id)
    advisory_xact_lock(f"outbox:{cid}")
    OutboxEvent.objects.create(
        contest_id=cid, event=event, data=json.dumps(data, separators=(",", ":"))
    )
    transaction.on_commit(lambda: _publish_after_commit(cid))


def _publish_after_commit(contest_id: str) -> None:
    if _retrier.active:
        # Redis refused an event a moment ago: the retry thread publishes this one after
        # it, in order, and the caller (an organizer's request, a clock tick) does not
        # wait for Redis to come back.
        _retrier.start()
        return
    publish_pending(contest_id=contest_id)


def publish_pending(*, contest_id: ContestId | None = None) -> bool:
    """Publish the committed events not yet published (of one contest, or of all), in
    order. True if none is left; what Redis refused is left to the retry thread."""
    pending = OutboxEvent.objects.filter(published_at__isnull=True)
    if contest_id is not None:
        pending = pending.filter(contest_id=contest_id)
    rows = list(pending.order_by("id").values_list("id", "contest_id", "event", "data")[:BATCH])
    refused: set[str] = set()
    for pk, contest_uuid, event, data in rows:
        cid = str(contest_uuid)
        if cid in refused:
            continue  # the contest's later events wait: its order must hold
        try:
            broadcast.send_to_contest(cid, event, json.loads(data), outbox_id=pk)
        except Exception as exc:
            refused.add(cid)
            logger.warning(
                "room event %s of contest %s is not published yet (%s); retrying",
                event,
                cid,
                exc.__class__.__name__,
            )
            continue
        OutboxEvent.objects.filter(pk=pk).update(published_at=Now())
    if refused:
        if settings.REDIS_URL:
            _retrier.start()
        return False
    return len(rows) < BATCH


def sweep() -> None:
    """The periodic backstop: publish what is pending, forget what is long published."""
    publish_pending()
    cutoff = timezone.now() - KEEP_PUBLISHED
    old = OutboxEvent.objects.filter(published_at__lt=cutoff).values_list("pk", flat=True)
    OutboxEvent.objects.filter(pk__in=list(old[:PRUNE_BATCH])).delete()


class _Retrier:
    """One thread per process that retries, with backoff, until nothing is pending.

    Only with Redis: the embedded mode's log is this process's memory, which takes every
    event (its sweep still runs, on the server's loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            self._again = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-retry", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            with self._lock:
                self._again = False
            time.sleep(delay)
            close_old_connections()
            try:
                done = publish_pending()
            except DatabaseError as exc:
                logger.warning("the outbox could not be read (%s); retrying", type(exc).__name__)
                done = False
            finally:
                close_old_connections()
            if done:
                with self._lock:
                    # A failure reported meanwhile (by another thread) keeps this one on.
                    if not self._again:
                        self._thread = None
                        logger.info("every pending room event is published")
                        return
                delay = RETRY_FIRST_SECONDS
            else:
                delay = min(delay * 2, RETRY_MAX_SECONDS)


_retrier = _Retrier()
