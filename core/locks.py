"""Transaction-scoped named locks in the database.

PostgreSQL's advisory locks serialise writers that no row lock covers (several processes
counting registrations, or recording one contest's room events in commit order) until
their transaction ends. The embedded SQLite mode has one process whose write
transactions SQLite already runs one at a time, so there it is a no-op.
"""

from __future__ import annotations

import zlib

from django.db import connection


def advisory_xact_lock(name: str) -> None:
    """Wait for, then hold until the transaction ends, the lock named `name`."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode())])
