"""Who is in each contest's room, across web processes, and who of them answered the open
question: what closing a question early needs (docs/CLOCK.md, "Early close").

With Redis:
- `presence:<contest>`: a sorted set whose members are `<participant id>@<hub token>`,
  scored by an expiry instant (Redis' clock, in ms). Each process's hub adds a
  participant when their first local socket joins the room, removes them when the last
  one leaves, and pushes the expiry of the others forward every REFRESH_SECONDS, so the
  entries of a process that crashed expire within TTL_SECONDS. A participant with
  sockets on two processes has two members; they count once.
- `answered:<contest>:<question>`: the participants who answered that question, added
  after each answer commits (contests.services.submission_create).
- `presence:<contest>:question`: the open question's id, set after the transaction that
  opens it commits and deleted after its close, so that a socket leaving the room can
  ask "has everyone left in the room answered?" without the database.

Without Redis (the embedded default: one process) they live in this process's memory.

The answer to "has everyone in the room answered?" from here is a fast pre-check; the
close itself re-checks on the locked contest row against the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from core.redis import get_async_redis, get_redis, redis_key
from core.types import ContestId, ParticipantId, QuestionId

TTL_SECONDS = 30
REFRESH_SECONDS = 10
ANSWERED_TTL_SECONDS = 3600
_SEPARATOR = "@"

# KEYS: presence set. ARGV: ttl ms, then members. Adds or refreshes them.
_ADD_LUA = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], expiry, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 0
"""

# KEYS: presence set. ARGV: ttl ms, member. Adds or refreshes it and returns 0; if the set
# is not there (a new room, or Redis lost it) adds nothing and returns 1 (ajoin then adds
# everyone at once: added alone, the joiner's answer would look like the whole room's).
_JOIN_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], expiry, ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 0
"""

# KEYS: presence set. Returns the members that have not expired.
_JOINED_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# KEYS: presence set, answered set (or the open-question key: ARGV[3] then names the
# answered sets' prefix). ARGV: ttl s, participant who just answered ("" for none),
# prefix. 1 if at least one participant is in the room and all of them answered.
# Cost: the member found not to have answered is kept as a witness (`<answered>:w`); while
# it is still in the room and still has not answered, the answer is 0 at once (an idle
# spectator makes every check O(1), not a scan of the room). Only when the witness
# answered or left is the room scanned again, up to the next one who has not answered:
# over a question with answers in random order, that is about ln(room) scans.
_ALL_ANSWERED_LUA = """
local answered = KEYS[2]
if ARGV[3] ~= '' then
  local question = redis.call('GET', KEYS[2])
  if not question then return 0 end
  answered = ARGV[3] .. question
end
local ttl = tonumber(ARGV[1])
if ARGV[2] ~= '' then
  redis.call('SADD', answered, ARGV[2])
  redis.call('EXPIRE', answered, ttl)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local witness_key = answered .. ':w'
local witness = redis.call('GET', witness_key)
if witness then
  local expiry = redis.call('ZSCORE', KEYS[1], witness)
  local participant = string.match(witness, '^(.-)@')
  if expiry and tonumber(expiry) >= now
      and redis.call('SISMEMBER', answered, participant) == 0 then
    return 0
  end
end
local members = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
if #members == 0 then return 0 end
for _, m in ipairs(members) do
  local participant = string.match(m, '^(.-)@')
  if redis.call('SISMEMBER', answered, participant) == 0 then
    redis.call('SET', witness_key, m, 'EX', ttl)
    return 0
  end
end
return 1
"""


def _presence_key(contest_id: ContestId) -> str:
    return redis_key("presence", contest_id)


def _answered_key(contest_id: ContestId, question_id: QuestionId) -> str:
    return redis_key("answered", contest_id, question_id)


def _open_question_key(contest_id: ContestId) -> str:
    return redis_key("presence", contest_id, "question")


def _member(participant_id: str, token: str) -> str:
    return f"{participant_id}{_SEPARATOR}{token}"


class _Memory:
    """The embedded mode's registry: one process, so no expiry."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.joined: dict[str, dict[str, set[str]]] = {}  # contest → participant → tokens
        self.answered: dict[str, tuple[str, set[str]]] = {}  # contest → (question, ids)
        self.open: dict[str, str] = {}  # contest → its open question

    def add(self, contest_id: str, participant_id: str, token: str) -> None:
        with self.lock:
            self.joined.setdefault(contest_id, {}).setdefault(participant_id, set()).add(token)

    def discard(self, contest_id: str, participant_id: str, token: str) -> None:
        with self.lock:
            room = self.joined.get(contest_id, {})
            tokens = room.get(participant_id, set())
            tokens.discard(token)
            if not tokens:
                room.pop(participant_id, None)
            if not room:
                self.joined.pop(contest_id, None)

    def participants(self, contest_id: str) -> set[str]:
        with self.lock:
            return set(self.joined.get(contest_id, {}))

    def all_answered(self, contest_id: str, question_id: str, participant_id: str | None) -> bool:
        with self.lock:
            question, ids = self.answered.get(contest_id, (question_id, set()))
            if question != question_id:
                ids = set()  # a new question: forget the last one's
            if participant_id is not None:
                ids.add(participant_id)
            self.answered[contest_id] = (question_id, ids)
            joined = set(self.joined.get(contest_id, {}))
            return bool(joined) and joined <= ids

    def open_question(self, contest_id: str) -> str | None:
        with self.lock:
            return self.open.get(contest_id)

    def set_open_question(self, contest_id: str, question_id: str | None) -> None:
        with self.lock:
            if question_id is None:
                self.open.pop(contest_id, None)
            else:
                self.open[contest_id] = question_id


_memory = _Memory()


# --- The hub's side (async, on the server's loop) ---------------------------------------


async def ajoin(
    contest_id: str, participant_id: str, token: str, *, others: Iterable[str] = ()
) -> bool:
    """Add a participant. If the room's registry is not there (a new room, or Redis lost
    its data), add them together with `others`, the other participants this process holds
    in the room (read only then), and return True."""
    client = get_async_redis()
    if client is None:
        _memory.add(contest_id, participant_id, token)
        return False
    lost = await client.eval(
        _JOIN_LUA, 1, _presence_key(contest_id), TTL_SECONDS * 1000, _member(participant_id, token)
    )
    if lost:
        # All at once: if this fails the registry stays empty, and an empty registry never
        # closes a question early.
        await arefresh(contest_id, {participant_id, *others}, token)
    return bool(lost)


async def aleave(contest_id: str, participant_id: str, token: str) -> None:
    client = get_async_redis()
    if client is None:
        _memory.discard(contest_id, participant_id, token)
        return
    await client.zrem(_presence_key(contest_id), _member(participant_id, token))


async def arefresh(contest_id: str, participant_ids: Iterable[str], token: str) -> None:
    """Push the expiry of this process's participants in the room forward (and add back
    any that Redis lost: a member too many only delays an early close)."""
    members = [_member(p, token) for p in participant_ids]
    client = get_async_redis()
    if client is None or not members:
        return
    await client.eval(_ADD_LUA, 1, _presence_key(contest_id), TTL_SECONDS * 1000, *members)


async def aall_joined_answered(contest_id: str) -> bool:
    """Whether someone is in the room and everyone there answered the open question:
    asked when a socket leaves the room, without the database."""
    client = get_async_redis()
    if client is None:
        question = _memory.open_question(contest_id)
        return question is not None and _memory.all_answered(contest_id, question, None)
    result = await client.eval(
        _ALL_ANSWERED_LUA,
        2,
        _presence_key(contest_id),
        _open_question_key(contest_id),
        ANSWERED_TTL_SECONDS,
        "",
        _answered_key(contest_id, ""),
    )
    return bool(result)


# --- The domain's side (sync, in a database thread or a worker) ---------------------------


def question_opened(*, contest_id: ContestId, question_id: QuestionId | None) -> None:
    """After a question opens (its id) or closes (None): what a leaving socket checks."""
    client = get_redis()
    if client is None:
        _memory.set_open_question(str(contest_id), str(question_id) if question_id else None)
    elif question_id is None:
        client.delete(_open_question_key(contest_id))
    else:
        client.set(_open_question_key(contest_id), str(question_id), ex=ANSWERED_TTL_SECONDS)


def joined_participants(*, contest_id: ContestId) -> set[str]:
    """The participants with a socket in the contest's room on any web process."""
    client = get_redis()
    if client is None:
        return _memory.participants(str(contest_id))
    members = client.eval(_JOINED_LUA, 1, _presence_key(contest_id))
    return {m.rpartition(_SEPARATOR)[0] for m in members}


def all_joined_answered(
    *, contest_id: ContestId, question_id: QuestionId, answered_by: ParticipantId | None = None
) -> bool:
    """Whether at least one participant is in the room and every one of them answered
    the question; `answered_by` first records that this participant answered it."""
    pid = str(answered_by) if answered_by is not None else None
    client = get_redis()
    if client is None:
        return _memory.all_answered(str(contest_id), str(question_id), pid)
    result = client.eval(
        _ALL_ANSWERED_LUA,
        2,
        _presence_key(contest_id),
        _answered_key(contest_id, question_id),
        ANSWERED_TTL_SECONDS,
        pid or "",
        "",
    )
    return bool(result)
