"""`manage.py rebuild_leaderboard CONTEST_ID`: refill a contest's live leaderboard in Redis
from the database (what every read does by itself after Redis lost the set)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contests.models import Contest
from leaderboard.services import leaderboard_rebuild


class Command(BaseCommand):
    help = "Rebuild a contest's live leaderboard in Redis from the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("contest_id", help="The contest's id (a UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            contest_id = uuid.UUID(options["contest_id"])
        except ValueError:
            raise CommandError(f"{options['contest_id']!r} is not a contest id (a UUID).") from None
        contest = Contest.objects.filter(pk=contest_id).first()
        if contest is None:
            raise CommandError(f"No contest has the id {contest_id}.")
        if not settings.REDIS_URL:
            self.stdout.write(
                "REDIS_URL is not set: the leaderboard is read from the database, "
                "there is nothing to rebuild."
            )
            return
        leaderboard_rebuild(contest_id=contest.pk)
        count = contest.participants.count()
        self.stdout.write(
            self.style.SUCCESS(f"Rebuilt the leaderboard of {contest} ({count} participants).")
        )
