"""Every operation of the live OpenAPI schema (/api/schema/), fuzzed by schemathesis
in-process through the WSGI application, against the tests' PostgreSQL and Redis.

No generated request may get a server error, and one that the schema forbids
(schemathesis' negative mode: a wrong type, an empty string where the schema asks for at
least one character, a value outside an enum, a missing required field) must be refused
with a 4xx: the schema and the validation must say the same. Requests are sent as a staff
account holding every contest permission.

Bounded: schemathesis' coverage phase (boundary values of every parameter, deterministic)
plus MAX_EXAMPLES generated requests per operation, derandomized so that a run is
reproducible; about 45 s.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from contests.models import Contest
from contestsite.wsgi import application
from tests.conftest import access_token_for
from tests.factories import ParticipantFactory, contest_with_questions, open_question, staff_user

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 20

# Loaded at collection (the schema view reads no database). schemathesis.pytest.from_fixture
# would load it in a fixture, but it fails on pytest 9 (it sets `Function._nodeid`).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def staff_token(transactional_db) -> str:
    return access_token_for(
        staff_user(
            "contests.add_contest",
            "contests.change_contest",
            "contests.delete_contest",
            "contests.view_contest",
        )
    )


@pytest.fixture
def fast_password_hashing():
    """Logins with generated credentials hash a password each (also for an unknown user);
    the quickest hasher keeps the module's run time down."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@pytest.fixture
def real_contests(transactional_db):
    """A generated id that is a UUID names nothing, so every request would be a 404: a
    contest id becomes a real contest instead, upcoming or with its first question open
    (by the generated id), and a participant id one of its participants, so that editing,
    registration, removal and the organizer controls run for real. An id that is not a
    UUID stays: its 404 is under test. POSTs (controls, registration, removal) change the
    contest, so each gets a fresh one; reads and edits share one per state."""
    shared: dict[bool, Contest] = {}

    def new_contest(open_first: bool) -> Contest:
        contest = contest_with_questions(questions=2)
        return open_question(contest) if open_first else contest

    def substitute(case) -> None:
        parameters = case.path_parameters or {}
        generated = _uuid(parameters.get("contest_id"))
        if generated is None:
            return
        open_first = bool(generated.int % 2)
        if case.method.upper() == "POST":
            contest = new_contest(open_first)
        else:
            if open_first not in shared:
                shared[open_first] = new_contest(open_first)
            contest = shared[open_first]
        parameters["contest_id"] = str(contest.pk)
        if _uuid(parameters.get("participant_id")) is not None:
            parameters["participant_id"] = str(ParticipantFactory(contest=contest).pk)

    return substitute


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_get_no_server_error_and_forbidden_ones_a_4xx(
    case, staff_token, real_contests, fast_password_hashing
):
    real_contests(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {staff_token}"},
        checks=[not_a_server_error, negative_data_rejection],
    )
