"""Per-recipient fields of room events, filled in per socket at delivery.

A room event is built, logged and published once for the whole room; the fields that
differ per recipient are built as `null`, last in `data` (realtime.outbound.payloads):
`you` (the recipient's own rank and score) in `leaderboard_update` and `contest_end`,
`yourResult` (the recipient's own result of the question that closed) in
`question_change`. Each web process fills them for its own sockets with **one** lookup
per event, whatever the number of sockets, and the same step fills them for a socket that
catches up with `resync`.

The leaderboard app registers where ranks come from at startup (`register_leaderboard`),
so this package does not import it; question results come from contests.selectors.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from contests.selectors import question_results
from core.types import ContestId, ParticipantId
from realtime.db import run_in_db_thread
from realtime.outbound.envelope import event_of
from realtime.outbound.payloads import your_result_payload

logger = logging.getLogger(__name__)

Board = dict[str, Any]
Ranks = dict[str, dict[str, int]]

# Room event → the field of its data that each recipient gets filled in.
PERSONAL_FIELDS = {
    "leaderboard_update": "you",
    "contest_end": "you",
    "question_change": "yourResult",
}


def placeholder(field: str) -> str:
    """What a personal field is in the text as built, before it is filled in."""
    return f'"{field}":null'


YOU_PLACEHOLDER = placeholder("you")
YOUR_RESULT_PLACEHOLDER = placeholder("yourResult")


class LeaderboardSource(Protocol):
    """The reads of the leaderboard that the way out needs (leaderboard.selectors).
    `status` (top, ranks): the contest's, when the caller has just read it, which saves
    reading it again."""

    def top(self, *, contest_id: ContestId, limit: int, status: str | None = None) -> Board: ...

    def ranks(
        self,
        *,
        contest_id: ContestId,
        participant_ids: Iterable[ParticipantId],
        status: str | None = None,
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


def _fill(text: str, field: str, value: str) -> str:
    head, found, tail = text.rpartition(placeholder(field))
    if not found:
        return text
    return f'{head}"{field}":{value}{tail}'


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


async def _results_of(
    contest_id: str, text: str, participant_ids: Iterable[str | None]
) -> dict[str, str]:
    """Each participant's `yourResult` of the question this question_change closes."""
    ids = sorted({p for p in participant_ids if p})
    if not ids:
        return {}
    try:
        question_id = json.loads(text)["data"]["closedQuestionId"]
        results = await run_in_db_thread(question_results)(
            contest_id=contest_id, question_id=question_id, participant_ids=ids
        )
    except Exception:
        # The event still goes out, with "yourResult": null, rather than not at all.
        logger.exception("Could not read the question results of contest %s", contest_id)
        return {}
    return {
        pid: json.dumps(your_result_payload(result), separators=(",", ":"))
        for pid, result in results.items()
    }


async def _values_of(
    contest_id: str, event: str, text: str, participant_ids: list[str | None]
) -> dict[str, str]:
    """{participant id: the JSON value of its personal field}, one lookup for them all."""
    if event == "question_change":
        return await _results_of(contest_id, text, participant_ids)
    ranks = await _ranks_of(contest_id, participant_ids, live=event == "leaderboard_update")
    return {pid: you_json(you) for pid, you in ranks.items()}


async def texts_for(
    contest_id: str, text: str, participant_ids: Iterable[str | None]
) -> dict[str | None, str]:
    """The text each of these recipients gets (None: a socket with no participant)."""
    wanted = list(participant_ids)
    event = event_of(text)
    field = PERSONAL_FIELDS.get(event)
    if field is None or placeholder(field) not in text:
        return dict.fromkeys(wanted, text)
    values = await _values_of(contest_id, event, text, wanted)
    texts: dict[str | None, str] = {}
    for pid in wanted:
        if pid not in texts:
            texts[pid] = _fill(text, field, values.get(pid, "null") if pid else "null")
    return texts


class Filler:
    """Fills the room events one recipient replays: `you` with the recipient's current
    rank (read once; docs/PROTOCOL.md, "resync"), `yourResult` with its result of each
    replayed question_change's question."""

    def __init__(self, contest_id: str, participant_id: str | None) -> None:
        self.contest_id = contest_id
        self.participant_id = participant_id
        self._you: str | None = None

    async def fill(self, text: str) -> str:
        event = event_of(text)
        field = PERSONAL_FIELDS.get(event)
        if field is None or placeholder(field) not in text:
            return text
        pid = self.participant_id
        if event == "question_change":
            values = await _results_of(self.contest_id, text, [pid])
            return _fill(text, field, values.get(pid, "null") if pid else "null")
        if self._you is None:
            ranks: Ranks = {}
            if pid is not None:
                ranks = await run_in_db_thread(leaderboard().ranks)(
                    contest_id=self.contest_id, participant_ids=[pid]
                )
            self._you = you_json(ranks.get(pid) if pid else None)
        return _fill(text, field, self._you)
