from django.db import models

from contests.models import Contest, Participant


class FinalStanding(models.Model):
    """A participant's place when the contest completed: the durable copy of the ranking."""

    # Not a foreign key in the database: the participant's is, and final_standings_write
    # (the only writer) copies the participant's own contest. Checking both at the
    # completing commit doubled its cost at 10,000 participants, and the (contest, rank)
    # index serves every read by contest (docs/PERFORMANCE.md, "Leaderboard").
    contest = models.ForeignKey(
        Contest,
        on_delete=models.CASCADE,
        related_name="final_standings",
        db_constraint=False,
        db_index=False,
    )
    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="final_standing"
    )
    rank = models.PositiveIntegerField()
    score = models.PositiveIntegerField()
    correct_count = models.PositiveIntegerField()
    total_response_ms = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["contest", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["contest", "rank"], name="final_standing_unique_rank")
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.participant}"


class LiveBoardRepair(models.Model):
    """A contest whose live board (Redis) missed a write: the answer or registration
    committed, Redis did not take its totals. The next flush rebuilds the board from the
    database and deletes the row. In PostgreSQL, because the Redis that refused the write
    may not take a "rebuild me" mark either."""

    contest = models.OneToOneField(
        Contest, on_delete=models.CASCADE, primary_key=True, related_name="live_board_repair"
    )
    failed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"repair the live board of {self.contest_id}"
