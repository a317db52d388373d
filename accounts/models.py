import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who organizes or plays contests.

    display_name is what leaderboards show; it defaults a participant's name in each
    contest they join.
    """

    # Clients see user ids (leaderboards, JWT claims): UUIDs, like every id they see.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=50, blank=True)

    def get_display_name(self) -> str:
        return self.display_name or self.username
