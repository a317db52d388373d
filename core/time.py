"""The server's clock: every deadline is judged against the database's time.

Worker and web processes drift; PostgreSQL's clock is the one all of them share, so
services read `db_now()` once per transaction and compare stored instants against it.
The embedded SQLite mode has one process, so its own clock is the shared clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone


def db_now() -> datetime:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # clock_timestamp(), not now(): now() is frozen at the transaction's start.
            cursor.execute("SELECT clock_timestamp()")
            (value,) = cursor.fetchone()
        return value
    return timezone.now()


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a Z: the only time format clients see."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
