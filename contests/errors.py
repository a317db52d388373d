"""Errors of the contest domain, each with its protocol code and HTTP status
(core.errors.DomainError)."""

from __future__ import annotations

from core.errors import DomainError


class ContestError(DomainError):
    """A refusal by the contest domain's rules."""


class ContestNotFound(ContestError):
    code = "CONTEST_NOT_FOUND"
    http_status = 404
    default_message = "No contest has this id."


class ContestNotActive(ContestError):
    code = "CONTEST_NOT_ACTIVE"
    http_status = 409
    default_message = "The contest is not running."


class ContestFull(ContestError):
    code = "CONTEST_FULL"
    http_status = 409
    default_message = "The contest has reached its maximum number of participants."


class ContestClosed(ContestError):
    """Registration for a contest that is over (completed or cancelled)."""

    code = "CONTEST_NOT_ACTIVE"
    http_status = 409
    default_message = "The contest is over; it takes no new participants."


class NotRegistered(ContestError):
    code = "NOT_REGISTERED"
    http_status = 403
    default_message = "You are not registered for this contest."


class QuestionNotFound(ContestError):
    code = "QUESTION_NOT_FOUND"
    http_status = 404
    default_message = "This contest has no question with this id."


class QuestionClosed(ContestError):
    code = "QUESTION_CLOSED"
    http_status = 409
    default_message = "This question is not open for answers."


class DuplicateSubmission(ContestError):
    code = "DUPLICATE_SUBMISSION"
    http_status = 409
    default_message = "You have already answered this question."


class InvalidAnswer(ContestError):
    code = "INVALID_ANSWER"
    http_status = 400
    default_message = "The answer does not fit this question."


class InvalidTransition(ContestError):
    """An organizer action that the contest's current state does not allow."""

    code = "INVALID_TRANSITION"
    http_status = 409
    default_message = "The contest's state does not allow this action."


class ContestNotReady(InvalidTransition):
    """Starting a contest whose questions are incomplete (e.g. a choice question whose
    choices were not added yet)."""

    code = "CONTEST_NOT_READY"
    default_message = "The contest's questions are incomplete."


class ContestHasNoQuestions(InvalidTransition):
    """Starting a contest that has nothing to play."""

    code = "CONTEST_HAS_NO_QUESTIONS"
    default_message = "A contest with no questions cannot start."


class ContestLocked(ContestError):
    code = "CONTEST_LOCKED"
    http_status = 409
    default_message = "Questions of a contest that has started cannot be edited."


class ParticipantRemoved(ContestError):
    """An organizer removed this user from the contest: no joining, registering or
    answering again."""

    code = "PARTICIPANT_REMOVED"
    http_status = 403
    default_message = "You were removed from this contest."


class ParticipantNotFound(ContestError):
    code = "PARTICIPANT_NOT_FOUND"
    http_status = 404
    default_message = "This contest has no participant with this id."
