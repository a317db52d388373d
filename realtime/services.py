"""Writes behind the WebSocket's client events that are not the domain's own services."""

from __future__ import annotations

from accounts.models import User
from contests.errors import ContestNotFound, NotRegistered
from contests.models import Contest, Participant
from contests.services import participant_register


def contest_join(*, contest_id: object, user: User) -> Participant | None:
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
        return participant
    contest = Contest.objects.filter(pk=contest_id).only("requires_registration").first()
    if contest is None:
        raise ContestNotFound()
    if user.is_staff and user.has_perm("contests.view_contest"):
        return None
    if contest.requires_registration:
        raise NotRegistered()
    participant, _ = participant_register(contest_id=contest_id, user=user)
    return participant
