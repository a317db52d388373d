from django.db import models

from contests.models import Contest, Participant


class FinalStanding(models.Model):
    """A participant's place when the contest completed: the durable copy of the ranking."""

    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="final_standings")
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
