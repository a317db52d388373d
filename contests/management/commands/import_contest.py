"""manage.py import_contest FILE.json: create a contest from the JSON format of
docs/CONTEST_FORMAT.md (the body of POST /api/contests/)."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from contests.api.serializers import ContestInputSerializer
from contests.models import Contest
from contests.services import contest_create
from core.api import errors_by_path


def _describe(errors: dict[str, list[str]]) -> str:
    lines = [f"  {path}: {message}" for path, messages in errors.items() for message in messages]
    return "The contest is not valid:\n" + "\n".join(lines)


def import_document(document: Any, *, created_by: User | None) -> Contest:
    """Validate a parsed contest document like the REST API does, then create it."""
    serializer = ContestInputSerializer(data=document)
    if not serializer.is_valid():
        raise CommandError(_describe(errors_by_path(serializer.errors)))
    try:
        return contest_create(data=serializer.validated_data, created_by=created_by)
    except ValidationError as exc:
        raise CommandError(_describe(errors_by_path(exc.message_dict))) from None


def read_document(path: str) -> Any:
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from None


class Command(BaseCommand):
    help = "Create a contest from a JSON file (docs/CONTEST_FORMAT.md) and print its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The contest's JSON file, or - to read standard input.")
        parser.add_argument("--created-by", metavar="USERNAME", help="Recorded as its author.")

    def handle(self, *args: Any, file: str, created_by: str | None, **options: Any) -> None:
        author = None
        if created_by is not None:
            author = User.objects.filter(username=created_by).first()
            if author is None:
                raise CommandError(f"No user is called {created_by!r}.")
        contest = import_document(read_document(file), created_by=author)
        # stdout carries only the id, so scripts can capture it.
        self.stdout.write(str(contest.pk))
        self.stderr.write(
            f"Created {contest.title!r}: {contest.questions.count()} questions, "
            f"join code {contest.join_code}."
        )
