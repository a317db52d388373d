"""The user admin, with display_name."""

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_adds_a_user_with_a_display_name_and_a_password(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "quizmaster",
            "display_name": "Quiz Master",
            "usable_password": "true",
            "password1": "violet-lantern-47",
            "password2": "violet-lantern-47",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="quizmaster")
    assert user.display_name == "Quiz Master"
    assert user.check_password("violet-lantern-47")


def test_it_edits_a_users_display_name_and_staff_flag(admin_client):
    user = UserFactory(username="ann", display_name="Ann")
    data = {
        "username": "ann",
        "display_name": "Annie",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }

    response = admin_client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.display_name, user.is_staff) == ("Annie", True)


def test_it_refuses_to_rename_a_user_to_a_username_taken_in_another_case(admin_client):
    UserFactory(username="ann")
    other = UserFactory(username="bea")
    data = {
        "username": "ANN",
        "display_name": "",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }

    response = admin_client.post(reverse("admin:accounts_user_change", args=[other.pk]), data)

    assert response.status_code == 200
    assert "A user with that username already exists." in response.content.decode()
    other.refresh_from_db()
    assert other.username == "bea"


def test_it_finds_users_by_display_name(admin_client):
    UserFactory(username="u1", display_name="Zebra")
    UserFactory(username="u2", display_name="Yak")

    response = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "zebra"})

    assert [u.username for u in response.context["cl"].result_list] == ["u1"]
