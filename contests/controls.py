"""The organizer controls: one table, served by the REST API (POST
/api/contests/{id}/<name>/) and the admin (buttons on a contest's page and list actions).
Each calls one lifecycle service, which refuses a state that does not allow it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contests import services
from contests.models import Contest


@dataclass(frozen=True)
class Control:
    name: str  # the URL segment and the admin's button
    action: str  # the admin's list action
    label: str  # what the admin's button and action say
    service: Callable[..., Contest]
    done: str  # the admin's message after it, following the contest's name
    description: str  # the API documentation


CONTROLS: dict[str, Control] = {
    control.name: control
    for control in (
        Control(
            "start",
            "start_now",
            "Start now",
            services.contest_start,
            "started.",
            "Start an upcoming contest now: question 1 opens (409 CONTEST_HAS_NO_QUESTIONS "
            "without questions, CONTEST_NOT_READY with an incomplete one).",
        ),
        Control(
            "end",
            "end_now",
            "End now",
            services.contest_end_now,
            "ended.",
            "End an active contest now: the open question closes and final standings are written.",
        ),
        Control(
            "pause",
            "pause",
            "Pause",
            services.contest_pause,
            "paused.",
            "Pause an active contest: its clock stands still until it is resumed.",
        ),
        Control(
            "resume",
            "resume",
            "Resume",
            services.contest_resume,
            "resumed.",
            "Resume a paused contest: the open question keeps its remaining time.",
        ),
        Control(
            "skip",
            "skip_question",
            "Skip question",
            services.question_skip,
            "question closed.",
            "Close the open question now (the intermission before the next one follows).",
        ),
        Control(
            "cancel",
            "cancel",
            "Cancel contest",
            services.contest_cancel,
            "cancelled.",
            "Cancel an upcoming or active contest; nothing is scored.",
        ),
    )
}


def controls_for(contest: Contest) -> list[str]:
    """The controls worth offering in the contest's state; the services still decide (and
    answer a stale page)."""
    if contest.status == Contest.Status.UPCOMING:
        return ["start", "cancel"]
    if contest.status != Contest.Status.ACTIVE:
        return []
    controls = ["resume" if contest.is_paused else "pause"]
    if contest.question_open:
        controls.append("skip")
    return [*controls, "end", "cancel"]
