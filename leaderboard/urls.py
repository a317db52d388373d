from django.urls import path

from leaderboard import api

urlpatterns = [
    path(
        "contests/<str:contest_id>/leaderboard/",
        api.LeaderboardView.as_view(),
        name="contest-leaderboard",
    ),
    path(
        "contests/<str:contest_id>/standings.csv",
        api.StandingsCsvView.as_view(),
        name="contest-standings-csv",
    ),
]
