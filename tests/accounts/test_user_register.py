"""accounts.services.user_register"""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.services import user_register
from tests.conftest import DatabaseThread
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "violet-lantern-47"


def test_it_creates_a_user_with_a_hashed_password():
    user = user_register(username="alice", password=GOOD_PASSWORD, display_name="Alice")

    user.refresh_from_db()
    assert (user.username, user.display_name, user.is_staff) == ("alice", "Alice", False)
    assert user.password != GOOD_PASSWORD
    assert user.check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("83920174619", "This password is entirely numeric."),
        ("alice-the-great", "The password is too similar to the username."),
    ],
)
def test_it_applies_the_password_validators(password, message):
    with pytest.raises(ValidationError) as raised:
        user_register(username="alice-the-great", password=password)

    assert message in raised.value.message_dict["password"]
    assert not User.objects.exists()


def test_it_rejects_a_username_taken_in_another_case():
    UserFactory(username="alice")

    with pytest.raises(ValidationError) as raised:
        user_register(username="Alice", password=GOOD_PASSWORD)

    assert raised.value.message_dict == {"username": ["A user with that username already exists."]}


def test_the_database_refuses_a_username_taken_in_another_case():
    UserFactory(username="alice")

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(username="ALICE")


@pytest.mark.django_db(transaction=True)
def test_a_registration_racing_one_in_another_case_gets_the_username_error():
    bob = DatabaseThread(lambda: user_register(username="bob", password=GOOD_PASSWORD))

    with transaction.atomic():
        # Not committed yet, so the other registration's check does not see it.
        UserFactory(username="Bob")
        bob.start_until_blocked()

    with pytest.raises(ValidationError) as raised:
        bob.outcome()
    assert raised.value.message_dict == {"username": ["A user with that username already exists."]}
    assert list(User.objects.values_list("username", flat=True)) == ["Bob"]


def test_it_rejects_a_username_with_invalid_characters():
    with pytest.raises(ValidationError) as raised:
        user_register(username="al ice", password=GOOD_PASSWORD)

    assert list(raised.value.message_dict) == ["username"]
