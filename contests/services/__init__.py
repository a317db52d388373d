"""Writes of the contest domain, by sub-domain. Every entry point (REST API, WebSocket
consumer, admin, management commands, Celery tasks) goes through these functions; the
names below are the public ones.

Clients hear of a change through realtime.outbound.emit, after the change commits.
"""

from contests.services.authoring import (
    CONTEST_FIELDS,
    QUESTION_FIELDS,
    contest_create,
    contest_update,
    question_delete,
    question_save,
)
from contests.services.lifecycle import (
    contest_advance,
    contest_tick,
    question_close_if_all_answered,
)
from contests.services.organizer import (
    contest_cancel,
    contest_end_now,
    contest_pause,
    contest_resume,
    contest_start,
    question_skip,
)
from contests.services.registration import (
    participant_join,
    participant_register,
    participant_remove,
)
from contests.services.submissions import SubmissionOutcome, submission_create

__all__ = [
    "CONTEST_FIELDS",
    "QUESTION_FIELDS",
    "SubmissionOutcome",
    "contest_advance",
    "contest_cancel",
    "contest_create",
    "contest_end_now",
    "contest_pause",
    "contest_resume",
    "contest_start",
    "contest_tick",
    "contest_update",
    "participant_join",
    "participant_register",
    "participant_remove",
    "question_close_if_all_answered",
    "question_delete",
    "question_save",
    "question_skip",
    "submission_create",
]
