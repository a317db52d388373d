"""manage.py export_contest ID: write a contest as the JSON that import_contest reads."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contests.errors import ContestNotFound
from contests.selectors import contest_export


class Command(BaseCommand):
    help = "Write a contest's questions and settings to stdout as JSON (docs/CONTEST_FORMAT.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("contest_id", help="The contest's id (a UUID).")

    def handle(self, *args: Any, contest_id: str, **options: Any) -> None:
        try:
            document = contest_export(contest_id=uuid.UUID(contest_id))
        except (ValueError, ContestNotFound):
            raise CommandError(f"No contest has the id {contest_id!r}.") from None
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
