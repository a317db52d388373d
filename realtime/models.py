"""The outbox of room events (realtime.outbound.relay).

A room event is written here in the same transaction as the change it announces, so a
change that commits always has its event, and the event of a change that rolls back is
gone with it. After the commit the relay publishes it (event log and channel layer) and
marks it published; if Redis does not take it, the relay retries until it does.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    contest_id = models.UUIDField()
    event = models.CharField(max_length=32)
    # The event's data as JSON text, exactly as it will be sent: jsonb would reorder the
    # keys, and the per-recipient fields must stay last (realtime.outbound.personalize).
    data = models.TextField()
    created_at = models.DateTimeField(db_default=Now())
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # What the relay reads: the pending events of a contest, in order.
            models.Index(
                fields=["contest_id", "id"],
                name="outbox_pending",
                condition=models.Q(published_at__isnull=True),
            ),
            models.Index(fields=["published_at"], name="outbox_published"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} of contest {self.contest_id}"
