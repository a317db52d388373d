from django.urls import path

from contests.api import views
from contests.controls import CONTROLS

urlpatterns = [
    path("contests/", views.ContestListView.as_view(), name="contest-list"),
    path("contests/<str:contest_id>/", views.ContestDetailView.as_view(), name="contest-detail"),
    path(
        "contests/<str:contest_id>/register/",
        views.ContestRegisterView.as_view(),
        name="contest-register",
    ),
    path(
        "contests/<str:contest_id>/participants/",
        views.ParticipantListView.as_view(),
        name="contest-participant-list",
    ),
    path(
        "contests/<str:contest_id>/participants/<str:participant_id>/remove/",
        views.ParticipantRemoveView.as_view(),
        name="contest-participant-remove",
    ),
    *(
        path(
            f"contests/<str:contest_id>/{name}/",
            views.organizer_control_view(control).as_view(),
            name=f"contest-{name}",
        )
        for name, control in CONTROLS.items()
    ),
]
