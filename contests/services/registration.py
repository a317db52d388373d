"""Registration: a user becomes a contest's participant (through the API, or by joining
over the WebSocket a contest that does not require registration), and an organizer can
take them out again for good (`participant_remove`)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import User
from contests.errors import (
    ContestClosed,
    ContestFull,
    ContestNotFound,
    InvalidTransition,
    NotRegistered,
    ParticipantNotFound,
    ParticipantRemoved,
)
from contests.locks import contest_lock, contest_share_for_registration, registrations_serialize
from contests.models import Contest, Participant
from core.time import db_now
from core.types import ContestId, ParticipantId
from leaderboard.ranking import Totals
from leaderboard.services import final_standings_write, leaderboard_record, leaderboard_remove
from realtime.outbound import emit


def participant_register(
    *, contest_id: ContestId, user: User, display_name: str | None = None
) -> tuple[Participant, bool]:
    """Register a user for a contest; returns (participant, created).

    Registering twice returns the existing participant. A contest that is over, or
    full, takes nobody new; an active contest takes late joiners. A participant an
    organizer removed gets ParticipantRemoved.
    """
    existing = Participant.objects.filter(contest_id=contest_id, user=user).first()
    if existing is not None:
        if existing.is_removed:
            raise ParticipantRemoved()
        return existing, False
    return _register_new(contest_id=contest_id, user=user, display_name=display_name)


def _register_new(
    *, contest_id: ContestId, user: User, display_name: str | None
) -> tuple[Participant, bool]:
    """participant_register for a user the caller just found unregistered."""
    try:
        with transaction.atomic():
            contest = contest_share_for_registration(contest_id)
            if contest is None:
                raise ContestNotFound()
            pk = contest.id
            if contest.status in (Contest.Status.COMPLETED, Contest.Status.CANCELLED):
                raise ContestClosed()
            if contest.max_participants is not None:
                registrations_serialize(pk)
                count = Participant.objects.filter(contest_id=pk).count()
                if count >= contest.max_participants:
                    raise ContestFull()
            participant = Participant.objects.create(
                contest_id=pk,
                user=user,
                display_name=(display_name or user.get_display_name())[:50],
            )
            transaction.on_commit(
                lambda: leaderboard_record(
                    contest_id=pk,
                    participant_id=participant.pk,
                    totals=_no_answers_yet(participant),
                ),
                robust=True,
            )
    except IntegrityError:
        # The same user registered from another request at the same instant.
        return Participant.objects.get(contest_id=contest_id, user=user), False
    return participant, True


def _no_answers_yet(participant: Participant) -> Totals | None:
    """A participant who just registered has nothing on any board yet: their totals are
    known without the totals query (17 % of a join's cost in a join storm,
    docs/PERFORMANCE.md). None when the database did not return the registration
    instant it set (a backend without INSERT … RETURNING): then it is read."""
    registered_at: object = participant.registered_at  # typed as set; see the docstring
    if not isinstance(registered_at, datetime):
        return None
    return Totals(
        participant_id=str(participant.pk),
        user_id=str(participant.user_id),
        display_name=participant.display_name,
        registered_at=registered_at,
        score=0,
        total_response_ms=0,
        correct_count=0,
        submission_count=0,
    )


def participant_join(*, contest_id: ContestId, user: User) -> Participant | None:
    """The user's participant in a contest they join over the WebSocket, or None for a
    viewer.

    A contest that does not require registration registers the user on joining (full
    and finished contests refuse newcomers: participant_register's rules); one that does
    admits only those registered through the API. Staff who may view contests and are
    not registered join as viewers: the host screen must not put its organizer on the
    leaderboard (staff who want to play register first).
    """
    participant = Participant.objects.filter(contest_id=contest_id, user=user).first()
    if participant is not None:
        if participant.is_removed:
            raise ParticipantRemoved()
        return participant
    contest = Contest.objects.filter(pk=contest_id).only("requires_registration").first()
    if contest is None:
        raise ContestNotFound()
    if user.is_staff and user.has_perm("contests.view_contest"):
        return None
    if contest.requires_registration:
        raise NotRegistered()
    participant, _ = _register_new(contest_id=contest_id, user=user, display_name=None)
    return participant


def participant_remove(
    *, contest_id: ContestId, participant_id: ParticipantId, now: datetime | None = None
) -> Participant:
    """Organizer: take a participant out of the contest for good. Their sockets close
    (4003, on every web process), they cannot join or register again, and they leave the
    live board and the final standings (rewritten if the contest completed already);
    their answers stay stored. Removing twice changes nothing.

    Raises ContestNotFound, ParticipantNotFound, or InvalidTransition for a cancelled
    contest (it has no standings to leave).
    """
    with transaction.atomic():
        # The clock's lock: a completion either wrote the standings before (and they are
        # rewritten here) or writes them after, without the participant.
        contest = contest_lock(contest_id)
        if contest is None:
            raise ContestNotFound()
        participant = Participant.objects.filter(contest=contest, pk=participant_id).first()
        if participant is None:
            raise ParticipantNotFound()
        if contest.status == Contest.Status.CANCELLED:
            raise InvalidTransition("A cancelled contest has no standings to remove anyone from.")
        if not participant.remove(now or db_now()):
            return participant
        if contest.status == Contest.Status.COMPLETED:
            final_standings_write(contest_id=contest.pk)
        else:
            transaction.on_commit(
                lambda: leaderboard_remove(contest_id=contest.pk, participant_id=participant.pk),
                robust=True,
            )
        emit.participant_removed(contest.pk, participant_id=participant.pk)
    return participant
