"""Every operation of the live OpenAPI schema (/api/schema/), fuzzed by schemathesis
in-process through the WSGI application, against the tests' PostgreSQL and Redis.

No generated request may get a server error; one that the schema forbids (schemathesis'
negative mode: a wrong type, a value out of range or not in an enum, a missing required
field) must be refused with a 4xx, so that the schema and the validation say the same.
Requests are sent as a staff account holding every contest permission.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from contestsite.wsgi import application
from tests.conftest import access_token_for
from tests.factories import contest_of_every_type, open_question, staff_user

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 20


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


# Loaded at collection: the schema view reads no database. (schemathesis.pytest.from_fixture
# would load it in a fixture, but it breaks on pytest 9: it sets `Function._nodeid`.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def _with_a_real_contest(case) -> None:
    """A generated contest id that is a UUID names no contest: every request would be a
    404. Half of them (by the generated id) become an upcoming contest of every question
    type, the other half one with its first question open."""
    generated = case.path_parameters.get("contest_id") if case.path_parameters else None
    try:
        parsed = uuid.UUID(str(generated))
    except ValueError:
        return  # not a UUID: the 404 is what is under test
    contest = contest_of_every_type()
    if parsed.int % 2:
        contest = open_question(contest)
    case.path_parameters["contest_id"] = str(contest.pk)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_gets_a_server_error(case, staff_token):
    _with_a_real_contest(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {staff_token}"},
        checks=[not_a_server_error, negative_data_rejection],
    )
