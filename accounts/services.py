"""Writes of the accounts app."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import USERNAME_TAKEN, User


def user_register(*, username: str, password: str, display_name: str = "") -> User:
    """Create a participant account; raises ValidationError keyed by field.

    Usernames are unique ignoring case, so "Alice" cannot pose as "alice" on a leaderboard.
    """
    # The name leaderboards show: the username unless the player chose another.
    user = User(username=username, display_name=display_name.strip() or username[:50])
    errors: dict[str, list[str]] = {}
    try:
        # Uniqueness is checked below, as one error on the username.
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
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
        # The same username (in any case) was registered by another request since the
        # check above: the database's constraint is the last word.
        raise ValidationError({"username": [USERNAME_TAKEN]}) from None
    return user
