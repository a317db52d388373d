"""The envelope parser and the client events' field validation, without a socket."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime import messages
from realtime.messages import ProtocolError

CONTEST = str(uuid.uuid4())


def error_of(text: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as raised:
        messages.parse(text)
    return raised.value


def test_it_parses_an_envelope_with_a_request_id():
    message = messages.parse(
        json.dumps({"event": "join_contest", "data": {"contestId": CONTEST}, "requestId": "r-1"})
    )
    assert message == messages.ClientMessage("join_contest", {"contestId": CONTEST}, "r-1")


def test_it_treats_a_missing_data_as_empty_and_ignores_unknown_fields():
    message = messages.parse('{"event": "ping", "timestamp": "whenever", "extra": [1]}')
    assert message == messages.ClientMessage("ping", {}, None)


@pytest.mark.parametrize(
    "text",
    ["", "not json", "{", '{"event": "ping",}', "NaN", '{"event": "ping", "data": {"x": NaN}}'],
)
def test_it_rejects_text_that_is_not_json(text):
    error = error_of(text)
    assert (error.code, error.field) == ("INVALID_PAYLOAD", None)


def test_it_rejects_json_nested_too_deep_to_decode():
    assert error_of("[" * 50_000 + "]" * 50_000).code == "INVALID_PAYLOAD"


@pytest.mark.parametrize("text", ["[]", '"ping"', "42", "null", "true"])
def test_it_rejects_json_that_is_not_an_object(text):
    assert error_of(text).code == "INVALID_PAYLOAD"


@pytest.mark.parametrize("event", [None, 42, ["ping"], {"name": "ping"}])
def test_it_rejects_an_event_that_is_not_a_string(event):
    error = error_of(json.dumps({"event": event, "requestId": "r"}))
    assert (error.code, error.field, error.request_id) == ("INVALID_PAYLOAD", "event", "r")


def test_it_rejects_an_unknown_event_with_invalid_event():
    error = error_of('{"event": "join", "requestId": "r"}')
    assert (error.code, error.request_id) == ("INVALID_EVENT", "r")
    assert "join" in error.message


@pytest.mark.parametrize("data", [[], "x", 1, None, True])
def test_it_rejects_data_that_is_not_an_object(data):
    error = error_of(json.dumps({"event": "ping", "data": data}))
    assert (error.code, error.field, error.event) == ("INVALID_PAYLOAD", "data", "ping")


@pytest.mark.parametrize("request_id", ["", "x" * 65, 7, ["r"], True])
def test_it_rejects_a_bad_request_id_without_echoing_it(request_id):
    error = error_of(json.dumps({"event": "ping", "requestId": request_id}))
    assert (error.code, error.field, error.request_id) == ("INVALID_PAYLOAD", "requestId", None)


def test_it_accepts_a_request_id_of_64_characters():
    assert messages.parse(json.dumps({"event": "ping", "requestId": "x" * 64})).request_id


def message(event: str, **data) -> messages.ClientMessage:
    return messages.ClientMessage(event, data, "r")


@pytest.mark.parametrize("value", [None, 42, "", "not-a-uuid", ["x"]])
def test_it_requires_uuid_strings_for_ids(value):
    with pytest.raises(ProtocolError) as raised:
        messages.uuid_field(message("join_contest", contestId=value), "contestId")
    assert (raised.value.code, raised.value.field) == ("INVALID_PAYLOAD", "data.contestId")
    assert raised.value.request_id == "r"


def test_it_canonicalises_ids():
    value = messages.uuid_field(message("join_contest", contestId=CONTEST.upper()), "contestId")
    assert value == CONTEST


def test_it_requires_an_answer_but_not_its_shape():
    with pytest.raises(ProtocolError) as raised:
        messages.submit_answer(message("submit_answer", contestId=CONTEST, questionId=CONTEST))
    assert raised.value.field == "data.answer"
    command = messages.submit_answer(
        message("submit_answer", contestId=CONTEST, questionId=CONTEST, answer={"any": 1})
    )
    assert command.answer == {"any": 1}


def test_resync_takes_epoch_and_last_seq_together():
    assert messages.resync(message("resync", contestId=CONTEST)) == messages.Resync(
        CONTEST, None, None
    )
    assert messages.resync(
        message("resync", contestId=CONTEST, epoch="ab12", lastSeq=0)
    ) == messages.Resync(CONTEST, "ab12", 0)
    for data in ({"epoch": "ab12"}, {"lastSeq": 3}):
        with pytest.raises(ProtocolError) as raised:
            messages.resync(message("resync", contestId=CONTEST, **data))
        assert raised.value.code == "INVALID_PAYLOAD"


@pytest.mark.parametrize("last_seq", [-1, 1.5, "3", True])
def test_resync_rejects_a_last_seq_that_is_not_a_natural_number(last_seq):
    with pytest.raises(ProtocolError) as raised:
        messages.resync(message("resync", contestId=CONTEST, epoch="ab", lastSeq=last_seq))
    assert raised.value.field == "data.lastSeq"


@pytest.mark.parametrize("epoch", ["", 5, "x" * 65])
def test_resync_rejects_a_bad_epoch(epoch):
    with pytest.raises(ProtocolError) as raised:
        messages.resync(message("resync", contestId=CONTEST, epoch=epoch, lastSeq=1))
    assert raised.value.field == "data.epoch"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.text())
def test_any_text_is_a_message_or_a_protocol_error(text):
    try:
        messages.parse(text)
    except ProtocolError as error:
        assert error.code in {"INVALID_PAYLOAD", "INVALID_EVENT"}


@given(json_values)
def test_any_json_value_is_a_message_or_a_protocol_error(value):
    try:
        parsed = messages.parse(json.dumps(value))
    except ProtocolError as error:
        assert error.code in {"INVALID_PAYLOAD", "INVALID_EVENT"}
    else:
        assert parsed.event in messages.CLIENT_EVENTS


@given(json_values)
def test_any_data_for_every_event_is_a_command_or_a_protocol_error(value):
    data = value if isinstance(value, dict) else {"contestId": value, "answer": value}
    for validate in (messages.submit_answer, messages.resync):
        try:
            validate(messages.ClientMessage("x", data, None))
        except ProtocolError as error:
            assert error.code == "INVALID_PAYLOAD"
