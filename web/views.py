"""The pages: home, the player's page and the host's big screen.

They are shells: the ES modules in static/web/ do the rest over the REST API and the
WebSocket, so the pages are the protocol's reference client (docs/WEB.md).
"""

from __future__ import annotations

import uuid

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from contests.models import Contest
from contests.selectors import contest_list

# How many running and upcoming contests the home page lists for staff.
LIVE_CONTESTS_SHOWN = 20


def _staff_viewer(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_staff and user.has_perm("contests.view_contest"))


def index(request: HttpRequest) -> HttpResponse:
    live = []
    if _staff_viewer(request):
        running = [Contest.Status.ACTIVE, Contest.Status.UPCOMING]
        live = list(contest_list().filter(status__in=running)[:LIVE_CONTESTS_SHOWN])
    return render(
        request, "web/index.html", {"live_contests": live, "staff": _staff_viewer(request)}
    )


def play(request: HttpRequest) -> HttpResponse:
    return render(request, "web/play.html", {"join_code": request.GET.get("code", "")[:16]})


@staff_member_required
def host(request: HttpRequest, contest_id: uuid.UUID) -> HttpResponse:
    if not _staff_viewer(request):
        raise PermissionDenied
    contest = contest_list().filter(pk=contest_id).first()
    if contest is None:
        raise Http404("No contest has this id.")
    play_url = request.build_absolute_uri(reverse("web:play"))
    can_control = request.user.has_perm("contests.change_contest")
    context = {
        "contest": contest,
        "play_url_shown": play_url.split("://", 1)[-1],
        "can_control": can_control,
        # What host.js needs; get_token also sets the CSRF cookie for its POSTs.
        "host_config": {
            "contestId": str(contest.pk),
            "title": contest.title,
            "csrfToken": get_token(request),
            "canControl": can_control,
        },
    }
    return render(request, "web/host.html", context)
