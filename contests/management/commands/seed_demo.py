"""manage.py seed_demo: demo accounts and a demo contest, idempotently (`make run` runs it
on every start). Existing demo data is left as it is, and a demo contest that has been
played is followed by a fresh one; --reset replaces the demo contests (cancelling one
that is not over first, so its players are told).

Its contests are recognised by a marker at the end of their description, which neither
the API nor import_contest adds: the same JSON imported through the README's curl flow
has the same title and author but is not a demo contest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import User
from contests.management.commands.import_contest import import_document, read_document
from contests.models import Contest
from contests.services import contest_cancel

DEMO_CONTEST_FILE = Path(settings.BASE_DIR) / "docs" / "examples" / "demo-contest.json"
ORGANIZER = ("organizer", "Organizer")
ORGANIZER_PASSWORD = "run-the-show-42"
PLAYERS = [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")]
PLAYER_PASSWORD = "play-the-quiz-42"
DEMO_MARKER = "(Demo contest of manage.py seed_demo.)"


def _user(username: str, display_name: str, password: str, *, staff: bool) -> User:
    user, _ = User.objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "is_staff": staff, "is_superuser": staff},
    )
    # Checked rather than set: set_password salts anew, so a second run would change data.
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


class Command(BaseCommand):
    help = "Create the demo organizer, players and contest if missing, and print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Replace the demo contest with a fresh upcoming one (e.g. after playing it); "
            "one that is not over is cancelled first.",
        )

    @transaction.atomic
    def handle(self, *args: Any, reset: bool, **options: Any) -> None:
        organizer = _user(*ORGANIZER, ORGANIZER_PASSWORD, staff=True)
        for username, display_name in PLAYERS:
            _user(username, display_name, PLAYER_PASSWORD, staff=False)

        demo = Contest.objects.filter(description__endswith=DEMO_MARKER)
        if reset:
            # Players of a running (or waiting) demo get contest_end "cancelled" rather
            # than a contest that vanishes under them.
            for playing in demo.filter(status__in=[Contest.Status.UPCOMING, Contest.Status.ACTIVE]):
                contest_cancel(contest_id=playing.pk)
            demo.delete()
        # The newest one not over yet; one that has been played stays with its results.
        contest = (
            demo.filter(status__in=[Contest.Status.UPCOMING, Contest.Status.ACTIVE])
            .order_by("-created_at")
            .first()
        ) or _demo_contest_create(organizer)

        base = f"http://127.0.0.1:{settings.PORT}"
        self.stdout.write(
            "\n".join(
                [
                    "Demo data is ready.",
                    f"  Organizer (staff, admin at {base}/admin/): "
                    f"{ORGANIZER[0]} / {ORGANIZER_PASSWORD}",
                    f"  Players: {', '.join(u for u, _ in PLAYERS)} / {PLAYER_PASSWORD}",
                    f"  Demo contest {contest.title!r}: id {contest.pk}, "
                    f"join code {contest.join_code}, status {contest.status}.",
                    "  Start it with the admin action 'Start now' or "
                    f"POST {base}/api/contests/{contest.pk}/start/ as the organizer."
                    if contest.status == Contest.Status.UPCOMING
                    else "  It is being played now; the next `manage.py seed_demo` after it "
                    "ends prepares a fresh one (`--reset` cancels it at once).",
                ]
            )
        )


def _demo_contest_create(organizer: User) -> Contest:
    document = read_document(str(DEMO_CONTEST_FILE))
    document["description"] = f"{document.get('description', '')}\n\n{DEMO_MARKER}".lstrip()
    return import_document(document, created_by=organizer)
