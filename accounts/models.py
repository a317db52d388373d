import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

USERNAME_TAKEN = "A user with that username already exists."


class User(AbstractUser):
    """A person who organizes or plays contests.

    display_name is what leaderboards show; it defaults a participant's name in each
    contest they join.
    """

    # Clients see user ids (leaderboards, JWT claims): UUIDs, like every id they see.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=50, blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            # "Alice" must not pose as "alice" on a leaderboard.
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_ignoring_case",
                violation_error_message=USERNAME_TAKEN,
            )
        ]

    def get_display_name(self) -> str:
        return self.display_name or self.username
