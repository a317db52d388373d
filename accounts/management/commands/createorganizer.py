"""manage.py createorganizer: an organizer's account (staff, in the Organizers group with
exactly the permissions an organizer needs; not a superuser).

    manage.py createorganizer                          # asks for the username and password
    manage.py createorganizer --username U --password P --noinput
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import ORGANIZERS_GROUP, organizer_create


class Command(BaseCommand):
    help = (
        "Create an organizer: a staff account in the Organizers group, which may author and "
        "run contests in the admin and the API (an existing account gets the role and the "
        "new password)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="The organizer's username.")
        parser.add_argument("--password", help="The password (else asked for, twice).")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Ask nothing: --username and --password are required.",
        )

    def handle(
        self,
        *args: Any,
        username: str | None,
        password: str | None,
        interactive: bool,
        **options: Any,
    ) -> None:
        if not interactive and not (username and password):
            raise CommandError("--noinput needs --username and --password.")
        try:
            while not username:
                username = input("Username: ").strip()
            while not password:
                password = getpass.getpass("Password: ")
                if password != getpass.getpass("Password (again): "):
                    self.stderr.write("The passwords do not match.")
                    password = None
        except EOFError:
            raise CommandError(
                "No input to read: give --username and --password with --noinput."
            ) from None
        try:
            user, created = organizer_create(username=username, password=password)
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(f"Not created: {problems}") from None
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} organizer {user.username!r} (staff, group {ORGANIZERS_GROUP!r}): "
            "sign in to the admin at /admin/ or get a token at POST /api/auth/token/."
        )
