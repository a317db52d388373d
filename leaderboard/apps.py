from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    name = "leaderboard"

    def ready(self) -> None:
        # The way out fills each recipient's rank from here (realtime.outbound.personalize)
        # without importing this app.
        from leaderboard import selectors
        from realtime.outbound.personalize import register_leaderboard

        register_leaderboard(selectors.LEADERBOARD_SOURCE)
