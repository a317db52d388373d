from django.urls import path

from contests import api

urlpatterns = [
    path("contests/", api.ContestListView.as_view(), name="contest-list"),
    path("contests/<str:contest_id>/", api.ContestDetailView.as_view(), name="contest-detail"),
    path(
        "contests/<str:contest_id>/register/",
        api.ContestRegisterView.as_view(),
        name="contest-register",
    ),
    path("contests/<str:contest_id>/start/", api.ContestStartView.as_view(), name="contest-start"),
    path("contests/<str:contest_id>/end/", api.ContestEndView.as_view(), name="contest-end"),
    path(
        "contests/<str:contest_id>/cancel/", api.ContestCancelView.as_view(), name="contest-cancel"
    ),
    path("contests/<str:contest_id>/pause/", api.ContestPauseView.as_view(), name="contest-pause"),
    path(
        "contests/<str:contest_id>/resume/", api.ContestResumeView.as_view(), name="contest-resume"
    ),
    path("contests/<str:contest_id>/skip/", api.ContestSkipView.as_view(), name="contest-skip"),
    path("health/", api.HealthView.as_view(), name="health"),
]
