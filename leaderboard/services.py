"""Leaderboard writes: live updates, batched broadcasts, rebuilds, final standings.

With REDIS_URL the live board is a sorted set per contest (leaderboard.live), a cache of
the database written with absolute, versioned values. Without it (the embedded default)
the board is computed from the database on each read and only the set of contests that
changed is kept, in this process's memory.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis
from django.conf import settings
from django.db import connection, transaction

from contests.locks import contest_share_if_active
from contests.models import Contest
from contests.selectors import live_board_rules
from core.redis import get_redis
from core.types import ContestId, ParticipantId
from leaderboard import live, ranking, selectors
from leaderboard.models import FinalStanding, LiveBoardRepair
from realtime.outbound import emit

logger = logging.getLogger(__name__)

BEAT_JITTER_MS = 100


class _MemoryDirty:
    """Contests changed since their last broadcast (embedded mode: one process)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, contest_id: str) -> None:
        with self._lock:
            self._ids.add(contest_id)

    def take(self, contest_id: str) -> bool:
        with self._lock:
            taken = contest_id in self._ids
            self._ids.discard(contest_id)
            return taken

    def pop_all(self) -> set[str]:
        with self._lock:
            ids, self._ids = self._ids, set()
            return ids


_memory_dirty = _MemoryDirty()
# Embedded mode: contests whose frozen board went out (Redis: live.freeze_announce).
_memory_frozen: set[str] = set()
_memory_frozen_lock = threading.Lock()


def leaderboard_record(
    *, contest_id: ContestId, participant_id: ParticipantId, totals: ranking.Totals | None = None
) -> None:
    """Write one participant's absolute totals, read from the database now, and mark the
    contest dirty. Runs on commit of a registration or a submission; a submission passes
    the totals it read in its own transaction, after its insert (versioned by the number
    of submissions, so an older write can never replace a newer one).

    The submission is already committed, so a Redis failure here must not reach the
    caller: the contest is marked for repair in the database (LiveBoardRepair), and the
    next flush rebuilds its board from the database.
    """
    cid = str(contest_id)
    if totals is not None:
        leaderboard_record_many(contest_id=cid, totals=[totals])
        return
    if get_redis() is None:
        _memory_dirty.add(cid)
        return
    found = selectors.live_totals_from_database(contest_id=cid, participant_id=participant_id)
    # Nothing for a participant who was removed meanwhile.
    leaderboard_record_many(contest_id=cid, totals=found)


def leaderboard_record_many(*, contest_id: ContestId, totals: list[ranking.Totals]) -> None:
    """Write these participants' absolute totals in one round trip and mark the contest
    dirty (the close of a question whose answers are revealed on close writes everyone
    who answered it). Like leaderboard_record, a Redis failure is logged, not raised."""
    cid = str(contest_id)
    client = get_redis()
    if client is None:
        _memory_dirty.add(cid)
        return
    if not totals:
        return
    try:
        live.write(client, cid, totals)
    except redis.RedisError as exc:
        _repair_later(cid, exc)


def _repair_later(contest_id: str, exc: Exception) -> None:
    """A write Redis refused: the database has it; the next flush rebuilds the board."""
    logger.warning(
        "leaderboard update of contest %s failed (%s); the next flush repairs it",
        contest_id,
        type(exc).__name__,
    )
    LiveBoardRepair.objects.bulk_create(
        [LiveBoardRepair(contest_id=contest_id)], ignore_conflicts=True
    )


def leaderboard_rebuild(*, contest_id: ContestId, if_missing: bool = False) -> None:
    """Rebuild the contest's live set from the database (no-op without Redis, where the
    database is the store). With `if_missing`, only if it is not built (after a flush)."""
    client = get_redis()
    if client is None:
        return
    selectors.live_rebuild(client, str(contest_id), if_missing=if_missing)


def leaderboard_touch(*, contest_id: ContestId) -> None:
    """Mark the contest dirty, so the next flush sends its board (the freeze begins)."""
    cid = str(contest_id)
    client = get_redis()
    if client is None:
        _memory_dirty.add(cid)
        return
    try:
        live.mark_dirty(client, cid)
    except redis.RedisError:
        logger.warning("could not mark contest %s's leaderboard for a broadcast", cid)


def leaderboard_remove(*, contest_id: ContestId, participant_id: ParticipantId) -> None:
    """Take a removed participant off the live board (on commit of the removal); the
    next flush sends the board without them."""
    cid = str(contest_id)
    client = get_redis()
    if client is None:
        _memory_dirty.add(cid)
        return
    try:
        live.remove(client, cid, str(participant_id))
    except redis.RedisError as exc:
        _repair_later(cid, exc)


def _freeze_announce(client: redis.Redis | None, contest_id: str) -> bool:
    if client is not None:
        return live.freeze_announce(client, contest_id)
    with _memory_frozen_lock:
        first = contest_id not in _memory_frozen
        _memory_frozen.add(contest_id)
        return first


def _freeze_unannounce(client: redis.Redis | None, contest_id: str) -> None:
    if client is not None:
        live.freeze_unannounce(client, contest_id)
        return
    with _memory_frozen_lock:
        _memory_frozen.discard(contest_id)


def _broadcast(client: redis.Redis | None, contest_id: str) -> None:
    with transaction.atomic():
        # Held FOR SHARE while sending: no leaderboard_update can follow contest_end, and
        # no question opens or closes meanwhile (the rules below stay true).
        if not contest_share_if_active(contest_id):
            return
        rules = live_board_rules(contest_id=contest_id)
        if not rules.visible:
            return  # a hidden board: only contest_end shows the standings
        # Frozen: one leaderboard_update, the board as the freeze began; then none.
        if rules.frozen and not _freeze_announce(client, contest_id):
            return
        # At most one per interval and contest, however many beats run flushes.
        if client is not None and not live.claim_broadcast(client, contest_id, _interval_ms()):
            if rules.frozen:
                _freeze_unannounce(client, contest_id)
            live.mark_dirty(client, contest_id)
            return
        try:
            board = selectors.live_top(contest_id=contest_id, limit=settings.LEADERBOARD_TOP_N)
            emit.leaderboard_update(contest_id, board=board, frozen=rules.frozen)
        except Exception:
            if rules.frozen:
                _freeze_unannounce(client, contest_id)
            raise


def _interval_ms() -> int:
    # A little under the interval: one beat's flushes come at jittered instants, and one
    # that comes a few milliseconds early must not skip its turn.
    return max(1, int(settings.LEADERBOARD_INTERVAL_SECONDS * 1000) - BEAT_JITTER_MS)


def _active_contest_ids() -> list[str]:
    ids = Contest.objects.filter(status=Contest.Status.ACTIVE).values_list("pk", flat=True)
    return [str(pk) for pk in ids]


def _repairs_due(active: list[str]) -> list[str]:
    repairs = LiveBoardRepair.objects.filter(contest_id__in=active)
    return [str(pk) for pk in repairs.values_list("contest_id", flat=True)]


def _pop_changed(client: redis.Redis | None, active: list[str]) -> set[str]:
    """The active contests to broadcast, taking them off the dirty set."""
    if client is None:
        return _memory_dirty.pop_all() & set(active)
    # A set that missed writes (LiveBoardRepair) or that Redis lost may be behind the
    # database: rebuilding marks it dirty, so it goes out now even if no answer arrives.
    for cid in _repairs_due(active):
        try:
            leaderboard_rebuild(contest_id=cid)
        except Exception:
            logger.exception("leaderboard of contest %s could not be repaired", cid)
            continue
        LiveBoardRepair.objects.filter(contest_id=cid).delete()
    for cid, built in live.is_built(client, active).items():
        if not built:
            # One contest's failure must not stop the others' boards; the next flush
            # finds it unbuilt and tries again.
            try:
                leaderboard_rebuild(contest_id=cid, if_missing=True)
            except Exception:
                logger.exception("leaderboard of contest %s could not be rebuilt", cid)
    return live.pop_dirty(client) & set(active)


def leaderboard_flush() -> None:
    """One `leaderboard_update` per active contest whose standings changed since its last
    broadcast (every LEADERBOARD_INTERVAL_SECONDS); nothing for the others."""
    client = get_redis()
    lock = live.flush_lock(client) if client is not None else None
    if lock is not None and not lock.acquire(blocking=False):
        logger.info("another leaderboard flush is running; this one has nothing to do")
        return
    try:
        for cid in sorted(_pop_changed(client, _active_contest_ids())):
            # One contest's failure must not starve the others.
            _broadcast_or_mark(client, cid)
    finally:
        if lock is not None:
            # Gone if Redis was flushed meanwhile, which needs no release.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()


def leaderboard_broadcast_now(*, contest_id: ContestId) -> None:
    """The contest's board at once, if it changed since its last broadcast: after a
    question whose answers are revealed on close has closed, so players see the new board
    in the intermission instead of up to a flush interval later (the one-per-interval
    rule still holds)."""
    cid = str(contest_id)
    client = get_redis()
    if client is None:
        if not _memory_dirty.take(cid):
            return
    elif not live.take_dirty(client, cid):
        return
    _broadcast_or_mark(client, cid)


def _broadcast_or_mark(client: redis.Redis | None, cid: str) -> None:
    """Broadcast the contest's board; if that fails, mark it changed again so that the
    next flush sends it."""
    try:
        _broadcast(client, cid)
    except Exception:
        logger.exception("leaderboard broadcast of contest %s failed", cid)
        if client is None:
            _memory_dirty.add(cid)
        else:
            live.mark_dirty(client, cid)


@transaction.atomic
def final_standings_write(*, contest_id: ContestId) -> int:
    """Store every participant's final place, computed from the database with the ranking
    rule. Runs inside the transaction that completes the contest: one INSERT … SELECT, so
    contest_end is not held back by 10,000 rows built in Python (docs/PERFORMANCE.md,
    "Leaderboard"). Returns the number of standings written."""
    FinalStanding.objects.filter(contest_id=contest_id).delete()
    select, params = selectors.final_standings_query(contest_id=contest_id)
    quote = connection.ops.quote_name
    # In the order final_standings_query selects them.
    columns = (
        "contest_id",
        "participant_id",
        "rank",
        "score",
        "correct_count",
        "total_response_ms",
    )
    into = f"{quote(FinalStanding._meta.db_table)} ({', '.join(map(quote, columns))})"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {into} {select}", params)
        written = cursor.rowcount
    transaction.on_commit(lambda: _drop_live(str(contest_id)))
    return written


def leaderboard_discard(*, contest_id: ContestId) -> None:
    """A cancelled contest has no ranking: forget its live set (on commit of the cancel)."""
    _drop_live(str(contest_id))


def _drop_live(contest_id: str) -> None:
    """After completion FinalStanding is the board; the live set would only wait for its
    TTL. A failure here loses nothing, so it must not disturb the other commit hooks."""
    client = get_redis()
    if client is None:
        return
    try:
        live.drop(client, contest_id)
    except redis.RedisError:
        logger.warning("could not drop contest %s's live leaderboard", contest_id)
