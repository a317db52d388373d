from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api import api_not_found
from core.monitoring import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    # django-nested-admin's script data (the contest page's nested question/choice rows).
    path("_nested_admin/", include("nested_admin.urls")),
    # Prometheus' default path; internal (METRICS_TOKEN, docs/OPERATIONS.md).
    path("metrics", metrics_view, name="metrics"),
    path("api/auth/", include("accounts.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("core.urls")),
    path("api/", include("contests.urls")),
    path("api/", include("leaderboard.urls")),
    # The pages (/, /play/, /host/<id>/) and their session-token endpoint.
    path("", include("web.urls")),
    # Last: any other path under /api/ gets a JSON 404, not an HTML page.
    re_path(r"^api/", api_not_found),
]
