"""Per-recipient fields of room events, filled in per socket at delivery.

A room event is built, logged and published once for the whole room; the fields that
differ per recipient (today `you`: the recipient's own rank and score) are built as
`null`, last in `data` (realtime.outbound.payloads). Each web process fills them for its
own sockets with **one** lookup per event, whatever the number of sockets, and the same
step fills them for a socket that catches up with `resync`.

The leaderboard app registers where ranks come from at startup (`register_leaderboard`),
so this package does not import it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from core.types import ContestId, ParticipantId
from realtime.db import run_in_db_thread
from realtime.outbound.envelope import event_of

logger = logging.getLogger(__name__)

Board = dict[str, Any]
Ranks = dict[str, dict[str, int]]

# Room event → the field of its data that each recipient gets filled in.
PERSONAL_FIELDS = {"leaderboard_update": "you", "contest_end": "you"}
# What a personal field is in the text as built, before it is filled in.
YOU_PLACEHOLDER = '"you":null'


class LeaderboardSource(Protocol):
    """The reads of the leaderboard that the way out needs (leaderboard.selectors)."""

    def top(self, *, contest_id: ContestId, limit: int) -> Board: ...

    def ranks(
        self, *, contest_id: ContestId, participant_ids: Iterable[ParticipantId]
    ) -> Ranks: ...

    def live_ranks(
        self, *, contest_id: ContestId, participant_ids: Iterable[ParticipantId]
    ) -> Ranks | None: ...


_leaderboard: LeaderboardSource | None = None


def register_leaderboard(source: LeaderboardSource) -> None:
    global _leaderboard
    _leaderboard = source


def leaderboard() -> LeaderboardSource:
    if _leaderboard is None:
        raise ImproperlyConfigured("No leaderboard source is registered (leaderboard app).")
    return _leaderboard


def is_personalized(text: str) -> bool:
    """Whether each recipient gets its own fields in this room event's text."""
    return event_of(text) in PERSONAL_FIELDS


def you_json(you: dict[str, Any] | None) -> str:
    """The value that replaces YOU_PLACEHOLDER's null for one recipient."""
    if you is None:
        return "null"
    return f'{{"rank":{int(you["rank"])},"score":{int(you["score"])}}}'


def _fill(text: str, value: str) -> str:
    head, placeholder, tail = text.rpartition(YOU_PLACEHOLDER)
    if not placeholder:
        return text
    return f'{head}"you":{value}{tail}'


async def _ranks_of(contest_id: str, participant_ids: Iterable[str | None], *, live: bool) -> Ranks:
    """`live` (a running contest's leaderboard_update): from Redis alone when it can, in a
    thread of its own, so the hub's one delivery task never queues behind submissions for
    a database thread. contest_end's final ranks come from the database."""
    ids = sorted({p for p in participant_ids if p})
    if not ids:
        return {}
    source = leaderboard()
    try:
        ranks = None
        if live:
            ranks = await asyncio.to_thread(
                source.live_ranks, contest_id=contest_id, participant_ids=ids
            )
        if ranks is None:
            ranks = await run_in_db_thread(source.ranks)(contest_id=contest_id, participant_ids=ids)
    except Exception:
        # The event still goes out, with "you": null, rather than not at all.
        logger.exception("Could not read the ranks of contest %s", contest_id)
        return {}
    return ranks


async def texts_for(
    contest_id: str, text: str, participant_ids: Iterable[str | None]
) -> dict[str | None, str]:
    """The text each of these recipients gets (None: a socket with no participant)."""
    wanted = list(participant_ids)
    if YOU_PLACEHOLDER not in text:
        return dict.fromkeys(wanted, text)
    ranks = await _ranks_of(contest_id, wanted, live=event_of(text) == "leaderboard_update")
    texts: dict[str | None, str] = {}
    for pid in wanted:
        if pid not in texts:
            texts[pid] = _fill(text, you_json(ranks.get(pid) if pid else None))
    return texts


class Filler:
    """Fills the room events one recipient replays, reading its values once: replayed
    events carry the recipient's current `you` (docs/PROTOCOL.md, "resync")."""

    def __init__(self, contest_id: str, participant_id: str | None) -> None:
        self.contest_id = contest_id
        self.participant_id = participant_id
        self._you: str | None = None

    async def fill(self, text: str) -> str:
        if not is_personalized(text):
            return text
        if self._you is None:
            pid = self.participant_id
            ranks: Ranks = {}
            if pid is not None:
                ranks = await run_in_db_thread(leaderboard().ranks)(
                    contest_id=self.contest_id, participant_ids=[pid]
                )
            self._you = you_json(ranks.get(pid) if pid else None)
        return _fill(text, self._you)
