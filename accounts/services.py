"""Writes of the accounts app."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User

USERNAME_TAKEN = "A user with that username already exists."


def user_register(*, username: str, password: str, display_name: str = "") -> User:
    """Create a participant account; raises ValidationError keyed by field.

    Usernames are unique ignoring case, so "Alice" cannot pose as "alice" on a leaderboard.
    """
    user = User(username=username, display_name=display_name)
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "username" not in errors and User.objects.filter(username__iexact=username).exists():
        errors["username"] = [USERNAME_TAKEN]
    try:
        # Validators compare the password with the username and display name.
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # The same username was registered by another request since the check above.
        raise ValidationError({"username": [USERNAME_TAKEN]}) from None
    return user
