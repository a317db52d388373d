from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from web import api, views

app_name = "web"

urlpatterns = [
    path("", views.index, name="index"),
    path("play/", views.play, name="play"),
    path("host/<uuid:contest_id>/", views.host, name="host"),
    path("api/auth/session-token/", api.SessionTokenView.as_view(), name="session-token"),
    # Browsers ask for it on every page without an icon link (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("web/icon.svg"), permanent=True)),
]
