"""Fuzzing the socket: whatever a client sends gets a reply or a close code, never an
unhandled exception, and the socket keeps working afterwards."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.messages import CLIENT_EVENTS
from tests.conftest import access_token_for
from tests.factories import contest_of_every_type, open_question
from tests.realtime.conftest import TIMEOUT, communicator, run

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_CODES = {1008, 1009}


@pytest.fixture
def live(participant):
    contest = open_question(contest_of_every_type(), index=1)
    question = contest.ordered_questions()[0]
    ids = [str(contest.pk), str(question.pk), *(str(c.pk) for c in question.choices.all())]
    return access_token_for(participant), ids


def frames(ids: list[str]) -> st.SearchStrategy:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
        | st.sampled_from(ids)
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
    fields = st.sampled_from(
        ["contestId", "questionId", "answer", "epoch", "lastSeq", "x", "requestId"]
    )
    envelopes = st.fixed_dictionaries(
        {"event": st.sampled_from(sorted(CLIENT_EVENTS)) | st.text(max_size=12) | values},
        optional={
            "data": st.dictionaries(fields, values, max_size=4) | values,
            "requestId": st.text(max_size=70) | values,
        },
    )
    return st.one_of(
        st.binary(max_size=300).map(lambda b: {"type": "websocket.receive", "bytes": b}),
        st.text(max_size=300).map(lambda t: {"type": "websocket.receive", "text": t}),
        values.map(lambda v: {"type": "websocket.receive", "text": json.dumps(v)}),
        envelopes.map(lambda e: {"type": "websocket.receive", "text": json.dumps(e)}),
    )


def check(token: str, frame: dict, join: str | None) -> None:
    async def scenario():
        ws = communicator(token=token)
        assert (await ws.connect(TIMEOUT))[0]
        if join is not None:
            await ws.send_json_to({"event": "join_contest", "data": {"contestId": join}})
            assert json.loads(await ws.receive_from(TIMEOUT))["event"] == "contest_state"
        await ws.send_input(frame)
        await ws.send_json_to({"event": "ping", "requestId": "after"})
        # Replies to the frame (any number: a replay has several), then the pong.
        while True:
            output = await ws.receive_output(TIMEOUT)
            if output["type"] == "websocket.close":
                assert output["code"] in CLOSE_CODES
                await ws.disconnect(timeout=TIMEOUT)
                return
            message = json.loads(output["text"])
            if message["event"] == "error":
                assert message["data"]["code"] != "INTERNAL_ERROR", message
            if message.get("requestId") == "after" and message["event"] == "pong":
                break
        await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_frame_gets_a_reply_or_a_close_and_the_socket_goes_on(live, data):
    token, ids = live
    join = ids[0] if data.draw(st.booleans(), label="joined first") else None
    check(token, data.draw(frames(ids), label="frame"), join)
