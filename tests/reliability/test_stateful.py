"""Players, their sockets, the contest clock, the organizer and a Redis flush, in any order
(hypothesis' rule-based state machine), against one real web server, PostgreSQL and Redis.

The machine plays a 3-question contest (single choice, multiple choice, numeric) to 3
players with 1-2 sockets each. Its rules join, answer (in time, late, twice, malformed),
resync, reconnect (with an answer in flight whose reply is lost), drop sockets, start,
open and time out questions (the clock's own transitions, `contest_tick` at the instants
they fall due), skip, end (those three maybe while an answer is on its way), and flush
Redis (maybe while a socket is away). After every step it waits until the outbox is
published and every socket is at the event log's position, then checks that:

- every acknowledged answer is stored with its submission id, none twice, and every
  stored answer of the players was acknowledged (its reply, or a later
  DUPLICATE_SUBMISSION); a refused answer stored nothing;
- every socket, running PROTOCOL.md's client algorithm, shows what the Contest row holds;
- no socket got a room event twice, or a seq that did not follow the last of its epoch;
- every question opened and closed at most once, its question_change reached every
  socket joined when it closed, and its stats count exactly its stored answers;
- a completed contest's final standings are the database's ranking.

The clock is the test's: questions last 600 s and nothing runs the tick but the rules,
which call it with `now=` at the instant a step falls due (the deadline plus the grace to
time a question out). That instant is then in the server's future: an answer arriving
before a question's recorded close was in time by the server's rule, so it is refused
with SERVICE_UNAVAILABLE ("try again"), not QUESTION_CLOSED (contests/services/
submissions.py); `refusal_for_a_question_not_open` states both cases.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.models import User
from contests.models import Contest, Question, Submission
from contests.services import (
    contest_cancel,
    contest_end_now,
    contest_start,
    contest_tick,
    participant_register,
    question_skip,
)
from core.redis import get_redis
from core.time import db_now
from leaderboard.models import FinalStanding
from leaderboard.selectors import standings_from_database
from realtime.models import OutboxEvent
from realtime.outbound.broadcast import event_log_position
from tests.conftest import access_token_for
from tests.factories import UserFactory, contest_of_every_type
from tests.reliability.sync_client import TIMEOUT, Client, Position, SocketLoop
from tests.servers import WebServer, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLAYERS = 3
SOCKETS_PER_PLAYER = 2
TIME_LIMIT_SECONDS = 600
ACTIVE, UPCOMING = Contest.Status.ACTIVE, Contest.Status.UPCOMING
COMPLETED = Contest.Status.COMPLETED

SETTINGS = settings(
    max_examples=12,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --- What the database says ------------------------------------------------------------------


def phase_of(contest: Contest) -> str:
    """contest_state's phase (docs/PROTOCOL.md)."""
    if contest.status == UPCOMING:
        return "waiting"
    if contest.status == ACTIVE:
        return "question" if contest.question_open else "intermission"
    return "finished"


def refusal_for_a_question_not_open(contest: Contest, position: int, now: datetime) -> str:
    """The code of an answer, arriving at `now`, to the question at `position` (1-based)
    while that question is not open (contests/services/submissions.py). An answer that
    arrives before the instant that ended its chance (the contest's end, the question's
    close, the next question's start) was in time on the server's clock: the server cannot
    judge it and says "try again" (SERVICE_UNAVAILABLE); only this test's clock, running
    ahead, produces such instants."""
    if contest.status == UPCOMING:
        return "CONTEST_NOT_ACTIVE"
    if contest.status != ACTIVE:
        ahead = contest.ended_at is not None and now < contest.ended_at
        return "SERVICE_UNAVAILABLE" if ahead else "CONTEST_NOT_ACTIVE"
    started, closed = contest.question_started_at, contest.question_closed_at
    if position != contest.current_question_index:
        ahead = position < contest.current_question_index and started and now < started
        return "SERVICE_UNAVAILABLE" if ahead else "QUESTION_CLOSED"
    assert contest.question_deadline is not None
    if now > contest.question_deadline + grace():
        return "QUESTION_CLOSED"
    return "SERVICE_UNAVAILABLE" if closed is not None and now < closed else "QUESTION_CLOSED"


# What the runs did, printed after the test (hypothesis' statistics leave state machines
# run by run_state_machine_as_test out).
TALLY: Counter[str] = Counter()


def note(what: str) -> None:
    event(what)
    TALLY[what] += 1


# What an answer sent just before its question closes may get instead of its result.
RACING_A_CLOSE = {"SERVICE_UNAVAILABLE", "QUESTION_CLOSED", "CONTEST_NOT_ACTIVE"}


def code_of(reply: dict[str, Any]) -> str:
    return reply["data"]["code"] if reply["event"] == "error" else reply["event"]


def grace() -> timedelta:
    return timedelta(milliseconds=django_settings.SUBMISSION_GRACE_MS)


# --- Answers -----------------------------------------------------------------------------------


def valid_answers(question: Question) -> st.SearchStrategy[Any]:
    """Answers of the right shape, right or wrong."""
    choices = [str(c.pk) for c in question.ordered_choices()]
    if question.type == Question.Type.SINGLE_CHOICE:
        return st.sampled_from(choices)
    if question.type == Question.Type.MULTIPLE_CHOICE:
        return st.lists(st.sampled_from(choices), min_size=1, unique=True)
    assert question.type == Question.Type.NUMERIC
    return st.just(3.14) | st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)


def answers_of_the_wrong_shape(question: Question, foreign_choice: str) -> st.SearchStrategy:
    """INVALID_ANSWER for this question's type."""
    if question.type == Question.Type.NUMERIC:
        return st.sampled_from(["3.14", True, None, [3.14], {"value": 3.14}])
    mine = str(question.ordered_choices()[0].pk)
    if question.type == Question.Type.SINGLE_CHOICE:
        return st.sampled_from([foreign_choice, [mine], 1, None, "", "choice-a"])
    return st.sampled_from([[], [mine, mine], mine, [foreign_choice], [1], None])


# --- The machine -------------------------------------------------------------------------------


class ContestMachine(RuleBasedStateMachine):
    """Hypothesis orders rules by their number of arguments, then by name, and leans to
    the first one that applies. The names are chosen so that this leaning plays the
    contest through (start, answers, time-outs, next questions) rather than repeating one
    always-applicable rule: the only rules without arguments are the start and the
    opening of the next question, "a_player_answers_in_time" comes first of the others and
    the clock's time-out second; the end takes two arguments, to come late."""

    def __init__(self, server: WebServer, sockets: SocketLoop) -> None:
        super().__init__()
        self.server, self.sockets = server, sockets
        redis = get_redis()
        assert redis is not None
        redis.flushdb()
        # No early close: whether a question closes when everyone in the room answered
        # depends on the room registry in Redis (refreshed every 10 s after a flush) and on
        # when the server handles a socket's leaving, which no step can wait for.
        contest = contest_of_every_type(intermission_seconds=0, close_when_all_answered=False)
        contest.questions.filter(order=4).delete()
        contest.questions.update(time_limit_seconds=TIME_LIMIT_SECONDS)
        self.contest = contest
        self.cid = str(contest.pk)
        self.questions = list(contest.questions.order_by("order", "id").prefetch_related("choices"))
        self.question_ids = [str(q.pk) for q in self.questions]
        self.players: list[User] = [UserFactory() for _ in range(PLAYERS)]
        for player in self.players:
            participant_register(contest_id=contest.pk, user=player)
        self.clients: list[Client] = []  # joined, with a socket
        self.gone: list[Client] = []  # closed for good
        self.owner: dict[Client, str] = {}  # client -> user id
        self.devices = 0
        # (user id, question id) -> submission id; None when only a DUPLICATE_SUBMISSION
        # told the player that an answer of theirs (whose reply was lost) is stored.
        self.acknowledged: dict[tuple[str, str], str | None] = {}
        # question id -> the clients joined when it closed.
        self.witnesses: dict[str, list[Client]] = {}
        self.position: Position = ("", 0)
        for player in self.players:
            self._join_new_socket(player)
        self.settle()

    def teardown(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(c.close() for c in self.clients))

        try:
            self.sockets.call(close_all())
        finally:
            # A contest left running would be advanced by the next example's ticks.
            self.contest.refresh_from_db()
            if self.contest.status in (UPCOMING, ACTIVE):
                contest_cancel(contest_id=self.contest.pk)

    # --- Waiting -----------------------------------------------------------------------------

    def settle(self) -> None:
        """Wait until the room events of the step are published and every socket has
        them (or resynced past them): at the event log's position, no resync pending."""
        deadline = time.monotonic() + TIMEOUT
        pending = OutboxEvent.objects.filter(contest_id=self.contest.pk, published_at=None)
        while pending.exists():
            assert time.monotonic() < deadline, "the outbox was not published"
            time.sleep(0.01)
        seq, epoch = event_log_position(self.contest.pk)
        self.position = (epoch, seq)

        async def everyone_there() -> None:
            await asyncio.gather(*(c.reach(self.position, deadline) for c in self.clients))

        self.sockets.call(everyone_there())
        self.contest.refresh_from_db()
        note(f"step: {sys._getframe(1).f_code.co_name}")

    def call(self, coroutine: Any) -> Any:
        return self.sockets.call(coroutine)

    # --- The model's questions ------------------------------------------------------------

    def open_question(self) -> Question | None:
        contest = self.contest
        if contest.status == ACTIVE and contest.question_open:
            return self.questions[contest.current_question_index - 1]
        return None

    def answered(self, client: Client, question: Question) -> bool:
        return (self.owner[client], str(question.pk)) in self.acknowledged

    def clients_who_answered(self, yes: bool) -> list[Client]:
        question = self.open_question()
        if question is None:
            return []
        return [c for c in self.clients if self.answered(c, question) == yes]

    def players_with_a_free_socket(self) -> list[User]:
        count = Counter(self.owner[c] for c in self.clients)
        return [p for p in self.players if count[str(p.pk)] < SOCKETS_PER_PLAYER]

    def stored(self) -> list[tuple[str, str, str]]:
        """(user id, question id, submission id) of every stored answer of the contest."""
        rows = Submission.objects.filter(question__contest=self.contest).values_list(
            "participant__user_id", "question_id", "pk"
        )
        return sorted((str(u), str(q), str(pk)) for u, q, pk in rows)

    def submit(self, client: Client, question_id: Any, answer: Any) -> dict[str, Any]:
        data = {"contestId": self.cid, "questionId": question_id, "answer": answer}
        return self.call(client.request("submit_answer", data))

    def assert_refused(self, reply: dict[str, Any], code: str, before: list[Any]) -> None:
        assert reply["event"] == "error", reply
        assert reply["data"]["code"] == code, reply
        assert self.stored() == before, f"the refused answer ({code}) was stored"

    def _join_new_socket(self, player: User) -> Client:
        self.devices += 1
        client = Client(
            name=f"{player.username}/{self.devices}",
            url=self.server.ws_url,
            token=access_token_for(player),
            contest_id=self.cid,
            question_ids=self.question_ids,
        )

        async def join() -> dict[str, Any]:
            await client.open()
            return await client.request("join_contest", {"contestId": self.cid})

        self.owner[client] = str(player.pk)
        self.clients.append(client)
        reply = self.call(join())
        assert reply["event"] == "contest_state", reply
        return client

    # --- Sockets ---------------------------------------------------------------------------

    @precondition(lambda self: self.players_with_a_free_socket() or len(self.clients) > 1)
    @rule(data=st.data())
    def socket_opens_or_closes(self, data: st.DataObject) -> None:
        """A player opens another socket and joins, or closes one for good."""
        can_open, can_close = self.players_with_a_free_socket(), len(self.clients) > 1
        if can_open and (not can_close or data.draw(st.booleans(), label="opens")):
            player = data.draw(st.sampled_from(can_open), label="player")
            self._join_new_socket(player)
        else:
            client = data.draw(st.sampled_from(self.clients), label="socket")
            self.call(client.close())
            self.clients.remove(client)
            self.gone.append(client)
        self.settle()

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), how=st.sampled_from(["resync", "resync from scratch", "join again"]))
    def socket_catches_up(self, data: st.DataObject, how: str) -> None:
        """A settled socket that resyncs from its position misses nothing; one that
        resyncs without a position, or joins again, gets the state."""
        client = data.draw(st.sampled_from(self.clients), label="socket")
        if how == "join again":
            reply = self.call(client.request("join_contest", {"contestId": self.cid}))
        else:
            cursor = client.resync_data() if how == "resync" else {"contestId": self.cid}
            reply = self.call(client.request("resync", cursor))
        if how == "resync":
            assert reply["event"] == "resync_complete", reply
            assert reply["data"]["replayed"] == 0, reply
        else:
            assert reply["event"] == "contest_state", reply
        self.settle()

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), answer_in_flight=st.booleans())
    def socket_reconnects(self, data: st.DataObject, answer_in_flight: bool) -> None:
        """Close a socket, open another for the same player and resync from its position.
        With an answer in flight, the reply to it is lost with the socket: the player
        sends it again on the new socket."""
        client = data.draw(st.sampled_from(self.clients), label="socket")
        question = self.open_question()
        resend: dict[str, Any] | None = None
        if answer_in_flight and question is not None and not self.answered(client, question):
            answer = data.draw(valid_answers(question), label="answer")
            resend = {"contestId": self.cid, "questionId": str(question.pk), "answer": answer}

        async def reconnect() -> dict[str, Any]:
            if resend is not None:
                await client.send("submit_answer", resend)
            await client.close()
            return await client.open_and_resync()

        reply = self.call(reconnect())
        note(f"a reconnection's resync: {reply['event']}")
        assert reply["event"] in ("resync_complete", "contest_state"), reply
        if resend is not None:
            again = self.call(client.request("submit_answer", resend))
            note(f"an answer sent again after its reply was lost: {code_of(again)}")
            key = (self.owner[client], resend["questionId"])
            if again["event"] == "submission_result":
                self.acknowledged[key] = again["data"]["submissionId"]
            else:
                assert again["data"]["code"] == "DUPLICATE_SUBMISSION", again
                self.acknowledged[key] = None
        self.settle()

    # --- Answers ---------------------------------------------------------------------------

    @precondition(lambda self: self.clients_who_answered(False))
    @rule(data=st.data())
    def a_player_answers_in_time(self, data: st.DataObject) -> None:
        question = self.open_question()
        assert question is not None
        client = data.draw(st.sampled_from(self.clients_who_answered(False)), label="socket")
        answer = data.draw(valid_answers(question), label="answer")
        before = self.stored()
        reply = self.submit(client, str(question.pk), answer)
        assert reply["event"] == "submission_result", reply
        assert reply["data"]["questionId"] == str(question.pk), reply
        submission_id = reply["data"]["submissionId"]
        self.acknowledged[(self.owner[client], str(question.pk))] = submission_id
        assert self.stored() == sorted(
            [*before, (self.owner[client], str(question.pk), submission_id)]
        )
        self.settle()

    @precondition(lambda self: self.clients)
    @rule(data=st.data())
    def player_sends_an_answer_that_is_refused(self, data: st.DataObject) -> None:
        """Twice, out of time or malformed; refused with its code, nothing stored."""
        kinds = ["out of time", "malformed"]
        if self.clients_who_answered(True):
            kinds.append("twice")
        kind = data.draw(st.sampled_from(kinds), label="kind")
        if kind == "twice":
            self.answer_twice(data)
        elif kind == "out of time":
            self.answer_out_of_time(data)
        else:
            self.answer_malformed(data)
        self.settle()

    def answer_twice(self, data: st.DataObject) -> None:
        question = self.open_question()
        assert question is not None
        client = data.draw(st.sampled_from(self.clients_who_answered(True)), label="socket")
        answer = data.draw(valid_answers(question), label="answer")
        before = self.stored()
        reply = self.submit(client, str(question.pk), answer)
        note("an answer twice: DUPLICATE_SUBMISSION")
        self.assert_refused(reply, "DUPLICATE_SUBMISSION", before)

    def answer_out_of_time(self, data: st.DataObject) -> None:
        """An answer to a question that is not open: closed (late), not asked yet, or
        after the end."""
        client = data.draw(st.sampled_from(self.clients), label="socket")
        open_question = self.open_question()
        others = [q for q in self.questions if q != open_question]
        question = data.draw(st.sampled_from(others), label="question")
        answer = data.draw(valid_answers(question), label="answer")
        before = self.stored()
        now = db_now()
        expected = refusal_for_a_question_not_open(
            self.contest, self.questions.index(question) + 1, now
        )
        reply = self.submit(client, str(question.pk), answer)
        note(f"an answer out of time: {expected}")
        self.assert_refused(reply, expected, before)

    def answer_malformed(self, data: st.DataObject) -> None:
        client = data.draw(st.sampled_from(self.clients), label="socket")
        question = self.open_question()
        qid = str((question or self.questions[0]).pk)
        messages = st.sampled_from(
            [
                {"contestId": self.cid, "questionId": qid},
                {"contestId": self.cid, "questionId": "question-1", "answer": "x"},
                {"contestId": self.cid, "questionId": 7, "answer": "x"},
                {"questionId": qid, "answer": "x"},
                {"contestId": "contest-1", "questionId": qid, "answer": "x"},
                ["not", "an", "object"],
            ]
        ).map(lambda body: (body, "INVALID_PAYLOAD"))
        if question is not None:
            foreign_choice = next(
                str(c.pk) for q in self.questions if q != question for c in q.ordered_choices()
            )
            wrong = answers_of_the_wrong_shape(question, foreign_choice).map(
                lambda answer: (
                    {"contestId": self.cid, "questionId": qid, "answer": answer},
                    "INVALID_ANSWER",
                )
            )
            messages = wrong | messages
        body, code = data.draw(messages, label="message")
        note(f"a malformed answer: {code}")
        before = self.stored()
        reply = self.call(client.request("submit_answer", body))
        self.assert_refused(reply, code, before)

    # --- The clock and the organizer ----------------------------------------------------

    @precondition(lambda self: self.contest.status == UPCOMING)
    @rule()
    def organizer_starts_the_contest(self) -> None:
        contest_start(contest_id=self.contest.pk)
        self.settle()

    @precondition(
        lambda self: (
            self.contest.status == ACTIVE
            and not self.contest.question_open
            and self.contest.next_question_at is not None
        )
    )
    @rule()
    def clock_opens_the_next_question(self) -> None:
        contest_tick(now=self.contest.next_question_at)
        self.settle()

    @precondition(lambda self: self.open_question() is not None)
    @rule(data=st.data())
    def clock_times_the_question_out(self, data: st.DataObject) -> None:
        """The tick closes the open question once its deadline and the grace passed."""
        assert self.contest.question_deadline is not None
        due = self.contest.question_deadline + grace() + timedelta(milliseconds=1)
        self.close_while_answering(data, lambda: contest_tick(now=due))
        self.settle()

    @precondition(lambda self: self.open_question() is not None)
    @rule(data=st.data())
    def organizer_skips_the_question(self, data: st.DataObject) -> None:
        self.close_while_answering(data, lambda: question_skip(contest_id=self.contest.pk))
        self.settle()

    @precondition(lambda self: self.contest.status == ACTIVE)
    @rule(data=st.data(), answer_in_flight=st.booleans())
    def organizer_ends_the_contest(self, data: st.DataObject, answer_in_flight: bool) -> None:
        def end() -> None:
            contest_end_now(contest_id=self.contest.pk)

        self.close_while_answering(data, end, in_flight=answer_in_flight)
        self.settle()

    def close_while_answering(
        self, data: st.DataObject, close: Callable[[], object], in_flight: bool | None = None
    ) -> None:
        """Close the open question (if any), maybe while a player's answer to it is on
        its way: it is stored and acknowledged (it came first), or refused with nothing
        stored (the close came first)."""
        question = self.open_question()
        if question is not None:
            self.witnesses[str(question.pk)] = list(self.clients)
        answering = self.clients_who_answered(False)
        sent: tuple[Client, str] | None = None
        if question is not None and answering and in_flight is None:
            in_flight = data.draw(st.booleans(), label="in flight")
        if question is not None and answering and in_flight:
            client = data.draw(st.sampled_from(answering), label="socket")
            answer = data.draw(valid_answers(question), label="answer")
            body = {"contestId": self.cid, "questionId": str(question.pk), "answer": answer}
            sent = client, self.call(client.send("submit_answer", body))
        close()
        if sent is not None and question is not None:
            client, request_id = sent
            reply = self.call(client.reply_to(request_id))
            note(f"an answer racing a close: {code_of(reply)}")
            key = (self.owner[client], str(question.pk))
            if reply["event"] == "submission_result":
                self.acknowledged[key] = reply["data"]["submissionId"]
            else:
                assert code_of(reply) in RACING_A_CLOSE, reply
                stored = [row for row in self.stored() if row[:2] == key]
                assert not stored, f"the refused answer ({code_of(reply)}) was stored"

    @rule(data=st.data())
    def redis_loses_everything(self, data: st.DataObject) -> None:
        """A Redis flush: the event log (a new epoch), the live board, the connection
        slots. A socket may be away meanwhile: it comes back with the old epoch."""
        away = data.draw(st.none() | st.sampled_from(self.clients), label="socket away")
        if away is not None:
            self.call(away.close())
        present = [c for c in self.clients if c is not away]
        before = sum((c.resyncs for c in present), Counter())
        redis = get_redis()
        assert redis is not None
        redis.flushdb()
        if away is not None:
            reply = self.call(away.open_and_resync())
            assert reply["event"] == "contest_state", reply
        self.settle()
        learnt = sum((c.resyncs for c in present), Counter()) - before
        note(f"sockets told of a flush by: {', '.join(sorted(learnt)) or 'nothing'}")

    # --- Invariants ------------------------------------------------------------------------

    @invariant()
    def acknowledged_answers_are_stored_once_and_stored_ones_were_acknowledged(self) -> None:
        rows = self.stored()
        keys = [(user, question) for user, question, _ in rows]
        assert len(keys) == len(set(keys)), f"an answer is stored twice: {rows}"
        stored = {(user, question): pk for user, question, pk in rows}
        for key, submission_id in self.acknowledged.items():
            assert key in stored, f"the acknowledged answer {key} is not stored"
            if submission_id is not None:
                assert stored[key] == submission_id, f"{key} is stored as another submission"
        players = {str(p.pk) for p in self.players}
        unacknowledged = {k for k in stored if k[0] in players} - set(self.acknowledged)
        assert not unacknowledged, f"stored answers never acknowledged: {unacknowledged}"

    @invariant()
    def every_socket_shows_what_the_database_holds(self) -> None:
        contest = self.contest
        opened = self.question_ids[: contest.current_question_index]
        open_one = self.open_question()
        closed = [q for q in opened if open_one is None or q != str(open_one.pk)]
        expected = (
            contest.status,
            phase_of(contest),
            contest.current_question_index,
            frozenset(opened),
            frozenset(closed),
        )
        stored = {(user, question): pk for user, question, pk in self.stored()}
        for client in self.clients:
            assert client.at(self.position), (client, client.epoch, client.last_seq)
            assert client.view.summary() == expected, client
            mine = client.view.your_submission
            if mine is not None:
                key = (self.owner[client], mine["questionId"])
                assert stored.get(key) == mine["submissionId"], (client, mine)

    @invariant()
    def each_players_result_on_a_close_is_their_stored_answer(self) -> None:
        """question_change's yourResult, filled in per recipient (also on a replay)."""
        rows = Submission.objects.filter(question__contest=self.contest).values_list(
            "participant__user_id", "question_id", "is_correct", "points_awarded"
        )
        stored = {(str(u), str(q)): (correct, points) for u, q, correct, points in rows}
        for client in [*self.clients, *self.gone]:
            for question_id, result in client.view.results.items():
                answer = stored.get((self.owner[client], question_id))
                expected = {"answered": answer is not None}
                if answer is not None:
                    expected.update(isCorrect=answer[0], pointsAwarded=answer[1])
                assert result is not None, (client, question_id)
                assert {k: result[k] for k in expected} == expected, (client, result, answer)

    @invariant()
    def no_socket_got_a_room_event_twice_or_out_of_order(self) -> None:
        problems = [v for c in [*self.clients, *self.gone] for v in c.violations]
        assert not problems, "\n".join(problems)

    @invariant()
    def each_question_opened_and_closed_once_at_most_as_the_contest_row_says(self) -> None:
        emitted: Counter[tuple[str, str | None]] = Counter()
        for name, text in OutboxEvent.objects.filter(contest_id=self.contest.pk).values_list(
            "event", "data"
        ):
            data = json.loads(text)
            emitted[(name, data.get("questionId") or data.get("closedQuestionId"))] += 1
        contest = self.contest
        opened = self.question_ids[: contest.current_question_index]
        open_one = self.open_question()
        for question_id in self.question_ids:
            closed = question_id in opened and (open_one is None or str(open_one.pk) != question_id)
            assert emitted[("question_broadcast", question_id)] == (question_id in opened), emitted
            assert emitted[("question_change", question_id)] == closed, emitted
        assert emitted[("contest_start", None)] == (contest.status != UPCOMING), emitted
        assert emitted[("contest_end", None)] == (contest.status == COMPLETED), emitted

    @invariant()
    def a_closed_questions_stats_count_exactly_its_stored_answers(self) -> None:
        changes = OutboxEvent.objects.filter(contest_id=self.contest.pk, event="question_change")
        for text in changes.values_list("data", flat=True):
            data = json.loads(text)
            answers = Submission.objects.filter(question_id=data["closedQuestionId"])
            correct = answers.filter(is_correct=True)
            assert data["stats"] == {"answered": answers.count(), "correct": correct.count()}

    @invariant()
    def each_question_change_reached_every_socket_joined_when_it_closed(self) -> None:
        for question_id, clients in self.witnesses.items():
            for client in clients:
                assert question_id in client.view.closed, (client, question_id)

    @invariant()
    def a_completed_contest_keeps_the_database_ranking_as_final_standings(self) -> None:
        if self.contest.status != COMPLETED:
            return
        final = FinalStanding.objects.filter(contest=self.contest).order_by("rank")
        expected = [
            (str(s.totals.participant_id), s.rank, s.totals.score)
            for s in standings_from_database(contest_id=self.contest.pk)
        ]
        assert [(str(f.participant_id), f.rank, f.score) for f in final] == expected


# --- The test ----------------------------------------------------------------------------------


def server_errors(server: WebServer) -> list[str]:
    return [
        line for line in server.output().splitlines() if "Traceback" in line or " ERROR " in line
    ]


# A passing run takes about a minute; a failing one adds hypothesis' shrinking (it stops
# after five minutes) to print the shortest sequence of steps it found.
@pytest.mark.timeout(600)
def test_players_sockets_clock_and_redis_flushes_in_any_order_keep_every_invariant(
    transactional_db,
):
    # Sockets learn of a flushed event log from the catch-up check (no event may follow).
    # The rate limit is not under test here: a step may send many messages at once.
    server = WebServer(
        child_env(
            WS_CATCH_UP_INTERVAL_SECONDS="0.1",
            WS_RATE_LIMIT_BURST="1000",
            WS_RATE_LIMIT_PER_SECOND="1000",
        )
    ).start()
    sockets = SocketLoop().start()
    try:
        run_state_machine_as_test(lambda: ContestMachine(server, sockets), settings=SETTINGS)
        print("\n".join(f"{n:5} {what}" for what, n in sorted(TALLY.items())))
        assert server_errors(server) == []
    except BaseException:
        print(server.output()[-20_000:])
        raise
    finally:
        sockets.stop()
        server.stop()
