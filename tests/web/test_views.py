"""The pages as HTTP answers: what each shows, and who may open the host screen."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from contests.models import Contest
from tests.factories import contest_with_questions, staff_user

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_home_page_links_to_play_organize_and_the_api_docs(client):
    page = client.get("/")

    assert page.status_code == 200
    html = page.content.decode()
    for link in ['href="/play/"', 'href="/admin/"', 'href="/api/docs/"']:
        assert link in html
    assert "sign in to the admin" in html


def test_the_home_page_lists_host_screens_of_live_contests_for_staff(organizer):
    running = contest_with_questions(questions=1, title="Running now")
    Contest.objects.filter(pk=running.pk).update(status=Contest.Status.ACTIVE)
    contest_with_questions(questions=1, title="Coming up")
    over = contest_with_questions(questions=1, title="Long over")
    Contest.objects.filter(pk=over.pk).update(status=Contest.Status.COMPLETED)

    html = signed_in(organizer).get("/").content.decode()

    assert f'href="/host/{running.pk}/"' in html
    assert "Coming up" in html
    assert "Long over" not in html


def test_players_see_no_host_screens_on_the_home_page(participant):
    contest_with_questions(questions=1, title="Secret plans")

    html = signed_in(participant).get("/").content.decode()

    assert "Secret plans" not in html


def test_the_play_page_has_sign_in_sign_up_and_join_forms(client):
    page = client.get("/play/?code=ab12cd")

    assert page.status_code == 200
    html = page.content.decode()
    for text in ['for="sign-in-username">Username', 'for="sign-in-password">Password']:
        assert text in html
    assert ">Sign in</button>" in html
    assert 'for="register-display-name">Display name' in html
    assert 'for="join-code">Join code' in html and ">Join</button>" in html
    assert 'value="ab12cd"' in html
    assert 'src="/static/web/play.js"' in html and 'type="module"' in html


def test_the_page_scripts_and_styles_are_served_locally(client):
    for path in ["play.js", "host.js", "protocol.js", "contest.js", "style.css"]:
        response = client.get(f"/static/web/{path}")
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content)
        assert b"http://" not in body and b"https://" not in body, path


def test_the_host_screen_sends_anonymous_visitors_to_the_admin_login(client):
    contest = contest_with_questions(questions=1)

    response = client.get(f"/host/{contest.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_host_screen_refuses_players(participant):
    contest = contest_with_questions(questions=1)

    assert signed_in(participant).get(f"/host/{contest.pk}/").status_code == 302


def test_the_host_screen_refuses_staff_who_may_not_view_contests():
    contest = contest_with_questions(questions=1)

    assert signed_in(staff_user()).get(f"/host/{contest.pk}/").status_code == 403


def test_the_host_screen_of_an_unknown_contest_is_a_404(organizer):
    assert signed_in(organizer).get(f"/host/{uuid.uuid4()}/").status_code == 404


def test_the_host_screen_shows_the_join_code_and_carries_its_config(organizer):
    contest = contest_with_questions(questions=2, title="Friday quiz")

    page = signed_in(organizer).get(f"/host/{contest.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Friday quiz" in html and contest.join_code in html
    assert "testserver/play/" in html
    config = json.loads(html.split('id="host-config" type="application/json">')[1].split("<")[0])
    assert config["contestId"] == str(contest.pk)
    assert config["canControl"] is True
    assert config["csrfToken"]
    for control in ["Start", "Pause", "Resume", "Skip question", "End contest"]:
        assert f">{control}</button>" in html


def test_staff_who_may_only_view_get_the_host_screen_without_controls():
    contest = contest_with_questions(questions=1)
    viewer = staff_user("contests.view_contest")

    html = signed_in(viewer).get(f"/host/{contest.pk}/").content.decode()

    assert ">Start</button>" not in html
    assert '"canControl": false' in html


def test_the_admin_links_the_contest_to_its_host_screen_and_view_site_to_home(organizer):
    contest = contest_with_questions(questions=1)
    admin = signed_in(organizer)

    page = admin.get(f"/admin/contests/contest/{contest.pk}/change/").content.decode()

    assert f'href="/host/{contest.pk}/"' in page
    assert 'href="/">View site</a>' in page


def test_the_favicon_is_the_pages_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/web/icon.svg"
