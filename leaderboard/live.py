"""The live leaderboard in Redis: a cache of the database, rebuilt whenever it is lost.

Keys per contest (all under settings.REDIS_KEY_PREFIX and KEY_SPACE, expiring together):
- `lb2:<contest>:ranking`  sorted set, member → sort value (leaderboard.ranking)
- `lb2:<contest>:member`   hash, participant id → member
- `lb2:<contest>:version`  hash, participant id → submission count the entry was computed at
- `lb2:<contest>:name`     hash, member → JSON [userId, displayName] (read with the top N)
- `lb2:<contest>:built`    marker: set by a complete rebuild, so its absence means the set
                           may be partial (Redis restarted or was flushed)
- `lb2:<contest>:removed`  set of participant ids an organizer removed: never written again
- `lb2:<contest>:frozen`   marker: the frozen board's one leaderboard_update went out
- `lb2:<contest>:closed`   marker: the contest completed or was cancelled and its set was
                           dropped; writes are refused, so a late update cannot bring back
                           a set nobody reads
and `lb2:dirty`, the set of contests whose standings changed since their last broadcast.

Writes are versioned: an entry is replaced only by one computed from more submissions.
A rebuild and a concurrent leaderboard_record can therefore interleave in any order and
every participant ends at the newest state either of them read from the database.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from core.redis import redis_key
from leaderboard import ranking

# Refreshed by every write; a contest idle for this long is rebuilt on its next read.
TTL_SECONDS = 7 * 24 * 3600
# Below FLUSH_LOCK_SECONDS: a flush waiting for a rebuild never outlives its own lock.
REBUILD_LOCK_SECONDS = 30
REBUILD_ATTEMPTS = 3
FLUSH_LOCK_SECONDS = 60
# The keys' namespace; it changes with the sort value's encoding (leaderboard.ranking), so
# a set written with another encoding is never read (it expires) and is rebuilt instead.
KEY_SPACE = "lb2"

# KEYS: ranking, member, version, name, built, dirty, rebuild lock, closed, removed
# ARGV: contest id, ttl, rebuild token ("" for a single participant's update), then per
#       participant 5 values: participant id, member, sort value, version, name JSON.
# A rebuild writes only while it still holds its lock: if Redis lost the lock, it also
# lost what was written since the rebuild read the database, so the rebuild must restart
# (returns -1) instead of marking a set built that misses those updates. A removed
# participant is never written again (an update read before the removal may land after it).
_WRITE_LUA = """
if redis.call('EXISTS', KEYS[8]) == 1 then return 0 end
local rebuild = ARGV[3] ~= ''
if rebuild and redis.call('GET', KEYS[7]) ~= ARGV[3] then return -1 end
local changed = 0
for i = 4, #ARGV, 5 do
  local stored = redis.call('HGET', KEYS[3], ARGV[i])
  local removed = redis.call('SISMEMBER', KEYS[9], ARGV[i]) == 1
  if (not removed) and ((not stored) or tonumber(stored) < tonumber(ARGV[i + 3])) then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 3])
    redis.call('HSET', KEYS[4], ARGV[i + 1], ARGV[i + 4])
    changed = changed + 1
  end
end
if rebuild then redis.call('SET', KEYS[5], '1') end
if changed > 0 or rebuild then redis.call('SADD', KEYS[6], ARGV[1]) end
for k = 1, 5 do redis.call('EXPIRE', KEYS[k], tonumber(ARGV[2])) end
return changed
"""

# KEYS: ranking, member, version, name, dirty, removed. ARGV: contest id, ttl, participant.
# Takes the participant off the board for good and marks the contest dirty.
_REMOVE_LUA = """
redis.call('SADD', KEYS[6], ARGV[3])
redis.call('EXPIRE', KEYS[6], tonumber(ARGV[2]))
local m = redis.call('HGET', KEYS[2], ARGV[3])
if not m then return 0 end
redis.call('ZREM', KEYS[1], m)
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('HDEL', KEYS[4], m)
redis.call('SADD', KEYS[5], ARGV[1])
return 1
"""

# Lua's unpack() takes at most a few thousand values: HMGET in slices.
_HMGET_ALL = """
local function hmget_all(key, fields)
  local values = {}
  for first = 1, #fields, 1000 do
    local slice = {}
    for i = first, math.min(first + 999, #fields) do slice[#slice + 1] = fields[i] end
    local got = redis.call('HMGET', key, unpack(slice))
    for i = 1, #slice do values[first + i - 1] = got[i] end
  end
  return values
end
"""

# KEYS: built, ranking, name. ARGV: limit. False when the set must be rebuilt first.
_TOP_LUA = (
    _HMGET_ALL
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local items = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local members = {}
for i = 1, #items, 2 do members[#members + 1] = items[i] end
return {redis.call('ZCARD', KEYS[2]), items, hmget_all(KEYS[3], members)}
"""
)

# KEYS: built, ranking, member. ARGV: participant ids. False when the set must be rebuilt
# first. Answers in one space-separated string (one reply item instead of three per id):
# - for ids that are a good part of the board, the whole ranking ("F member value ..."),
#   which costs Redis one ZRANGE instead of a ZRANK and a ZSCORE per id;
# - otherwise "I" and per id on the board: its argument index, 0-based position, value.
_RANKS_LUA = (
    _HMGET_ALL
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if #ARGV * 4 >= redis.call('ZCARD', KEYS[2]) then
  return 'F ' .. table.concat(redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'), ' ')
end
local members = hmget_all(KEYS[3], ARGV)
local out = {'I'}
for i = 1, #ARGV do
  local m = members[i]
  if m then
    local position = redis.call('ZRANK', KEYS[2], m)
    if position then
      out[#out + 1] = i
      out[#out + 1] = position
      out[#out + 1] = redis.call('ZSCORE', KEYS[2], m)
    end
  end
end
return table.concat(out, ' ')
"""
)


class NotBuilt(Exception):
    """The contest's set is missing or partial: rebuild it from the database first."""


class RebuildFailed(Exception):
    """Redis kept losing the rebuild's lock (restarting or flushed again and again)."""


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    participant_id: str
    user_id: str
    display_name: str
    score: int


def key(*parts: object) -> str:
    """A key of the live leaderboard: key(contest_id, "ranking"), key("dirty")."""
    return redis_key(KEY_SPACE, *parts)


def dirty_key() -> str:
    return key("dirty")


def built_key(contest_id: str) -> str:
    return key(contest_id, "built")


def _rebuild_lock_key(contest_id: str) -> str:
    return key(contest_id, "rebuild")


def _keys(contest_id: str) -> list[str]:
    return [
        key(contest_id, "ranking"),
        key(contest_id, "member"),
        key(contest_id, "version"),
        key(contest_id, "name"),
        built_key(contest_id),
        dirty_key(),
        _rebuild_lock_key(contest_id),
        key(contest_id, "closed"),
        key(contest_id, "removed"),
    ]


def write(
    client: redis.Redis,
    contest_id: str,
    totals: Iterable[ranking.Totals],
    *,
    rebuild_token: str = "",
) -> int:
    """Store these totals (newer versions only) and mark the contest dirty if anything
    changed. With the token of a held rebuild lock, the totals are every participant's
    and the set is marked built. Returns how many entries changed, -1 if the lock is lost."""
    args: list[str | int | float] = [contest_id, TTL_SECONDS, rebuild_token]
    for t in totals:
        args += [
            t.participant_id,
            ranking.member(registered_at=t.registered_at, participant_id=t.participant_id),
            ranking.sort_value(score=t.score, total_response_ms=t.total_response_ms),
            t.submission_count,
            json.dumps([t.user_id, t.display_name], separators=(",", ":")),
        ]
    keys = _keys(contest_id)
    return int(client.eval(_WRITE_LUA, len(keys), *keys, *args))


def remove(client: redis.Redis, contest_id: str, participant_id: str) -> None:
    """Take a participant off the board for good (an organizer removed them); later
    writes of their totals are refused."""
    k = _keys(contest_id)
    client.eval(
        _REMOVE_LUA, 6, k[0], k[1], k[2], k[3], k[5], k[8], contest_id, TTL_SECONDS, participant_id
    )


def freeze_announce(client: redis.Redis, contest_id: str) -> bool:
    """True the first time it is called for a contest: its frozen board goes out once."""
    return bool(client.set(key(contest_id, "frozen"), "1", nx=True, ex=TTL_SECONDS))


def freeze_unannounce(client: redis.Redis, contest_id: str) -> None:
    """The frozen board could not be sent: the next flush tries again."""
    client.delete(key(contest_id, "frozen"))


def rebuild(
    client: redis.Redis,
    contest_id: str,
    load_totals: Callable[[], list[ranking.Totals]],
    *,
    if_missing: bool,
) -> None:
    """Merge every participant's totals from the database into the set and mark it built.

    One rebuild per contest at a time: a crowd of readers after a flush waits for the
    first one (and with `if_missing` then finds the set built and returns).
    """
    for _ in range(REBUILD_ATTEMPTS):
        token = secrets.token_hex(8)
        lock = client.lock(
            _rebuild_lock_key(contest_id),
            timeout=REBUILD_LOCK_SECONDS,
            blocking_timeout=REBUILD_LOCK_SECONDS,
        )
        if not lock.acquire(token=token):
            raise RebuildFailed(f"the rebuild lock of contest {contest_id} stayed taken")
        try:
            if if_missing and client.exists(built_key(contest_id)):
                return
            # The database is read with the lock held: an update Redis lost before the lock
            # was taken is in this snapshot, and if Redis loses data after that, it loses
            # the lock too and the write refuses (so the next attempt reads again).
            if write(client, contest_id, load_totals(), rebuild_token=token) >= 0:
                return
        finally:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
    raise RebuildFailed(f"Redis lost contest {contest_id}'s rebuild {REBUILD_ATTEMPTS} times")


def is_built(client: redis.Redis, contest_ids: list[str]) -> dict[str, bool]:
    pipe = client.pipeline(transaction=False)
    for cid in contest_ids:
        pipe.exists(built_key(cid))
    return {cid: bool(n) for cid, n in zip(contest_ids, pipe.execute(), strict=True)}


def top(client: redis.Redis, contest_id: str, limit: int) -> tuple[list[Entry], int]:
    """The first `limit` entries and the number of participants; raises NotBuilt."""
    keys = _keys(contest_id)
    result = client.eval(_TOP_LUA, 3, keys[4], keys[0], keys[3], limit)
    if result is None:
        raise NotBuilt(contest_id)
    total, items, names = result
    entries = []
    for i, name in enumerate(names):
        user_id, display_name = json.loads(name)
        entries.append(
            Entry(
                rank=i + 1,
                participant_id=ranking.participant_id_from_member(items[2 * i]),
                user_id=user_id,
                display_name=display_name,
                score=ranking.score_from_sort_value(items[2 * i + 1]),
            )
        )
    return entries, int(total)


def ranks(
    client: redis.Redis, contest_id: str, participant_ids: list[str]
) -> dict[str, dict[str, int]]:
    """{participant id: {"rank", "score"}} for those of the ids on the board, in one
    round trip whatever their number; raises NotBuilt."""
    keys = _keys(contest_id)
    result = client.eval(_RANKS_LUA, 3, keys[4], keys[0], keys[1], *participant_ids)
    if result is None:
        raise NotBuilt(contest_id)
    mode, *fields = result.split()
    if mode == "F":
        wanted = set(participant_ids)
        found = {}
        for position, i in enumerate(range(0, len(fields), 2)):
            pid = ranking.participant_id_from_member(fields[i])
            if pid in wanted:
                found[pid] = {
                    "rank": position + 1,
                    "score": ranking.score_from_sort_value(fields[i + 1]),
                }
        return found
    return {
        participant_ids[int(fields[i]) - 1]: {
            "rank": int(fields[i + 1]) + 1,
            "score": ranking.score_from_sort_value(fields[i + 2]),
        }
        for i in range(0, len(fields), 3)
    }


def pop_dirty(client: redis.Redis) -> set[str]:
    """Every contest marked dirty, removed atomically (a concurrent flush gets none)."""
    pipe = client.pipeline(transaction=True)
    pipe.smembers(dirty_key())
    pipe.delete(dirty_key())
    members, _ = pipe.execute()
    return set(members)


def take_dirty(client: redis.Redis, contest_id: str) -> bool:
    """Take one contest off the dirty set; True if it was on it (a concurrent flush that
    took it first gets it, this call nothing)."""
    return bool(client.srem(dirty_key(), contest_id))


def mark_dirty(client: redis.Redis, contest_id: str) -> None:
    client.sadd(dirty_key(), contest_id)


def unmark_built(client: redis.Redis, contest_id: str) -> None:
    client.delete(built_key(contest_id))


def drop(client: redis.Redis, contest_id: str) -> None:
    """Forget a contest's live set for good (it completed, FinalStanding is the record
    now, or it was cancelled); later writes are refused."""
    keys = _keys(contest_id)
    pipe = client.pipeline(transaction=True)
    pipe.delete(*keys[:5], keys[8], key(contest_id, "frozen"))
    pipe.set(keys[7], "1", ex=TTL_SECONDS)
    pipe.execute()


def claim_broadcast(client: redis.Redis, contest_id: str, interval_ms: int) -> bool:
    """True once per `interval_ms` and contest: the turn to broadcast its board."""
    return bool(client.set(redis_key("lb", contest_id, "sent"), "1", nx=True, px=interval_ms))


def flush_lock(client: redis.Redis) -> redis.lock.Lock:
    """One flush at a time, so boards of one contest are never broadcast out of order."""
    return client.lock(key("flush"), timeout=FLUSH_LOCK_SECONDS)
