"""Writes of the accounts app."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

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


# What an organizer does: author contests (questions and choices too), run them, and read
# their participants, submissions and final standings, in the admin and the API. Nothing
# about accounts, groups or permissions.
ORGANIZERS_GROUP = "Organizers"
ORGANIZER_PERMISSIONS = (
    "contests.add_contest",
    "contests.change_contest",
    "contests.delete_contest",
    "contests.view_contest",
    "contests.add_question",
    "contests.change_question",
    "contests.delete_question",
    "contests.view_question",
    "contests.add_choice",
    "contests.change_choice",
    "contests.delete_choice",
    "contests.view_choice",
    "contests.view_participant",
    "contests.view_submission",
    "leaderboard.view_finalstanding",
)


def organizers_group() -> Group:
    """The Organizers group, with exactly ORGANIZER_PERMISSIONS (put back if edited)."""
    group, _ = Group.objects.get_or_create(name=ORGANIZERS_GROUP)
    wanted = Q()
    for name in ORGANIZER_PERMISSIONS:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.filter(wanted))
    if len(permissions) != len(ORGANIZER_PERMISSIONS):
        # Permissions are created by migrate.
        raise ImproperlyConfigured("Run `manage.py migrate` before creating organizers.")
    group.permissions.set(permissions)
    return group


@transaction.atomic
def organizer_create(*, username: str, password: str) -> tuple[User, bool]:
    """A staff account in the Organizers group (not a superuser); an existing account of
    that name becomes one, with this password. Returns (user, created). Raises
    ValidationError keyed by field, like user_register."""
    user = User.objects.filter(username__iexact=username).first()
    created = user is None
    if user is None:
        user = User(username=username)
        try:
            user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from None
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from None
    user.set_password(password)
    user.is_staff = True
    user.is_active = True
    user.save()
    user.groups.add(organizers_group())
    return user, created
