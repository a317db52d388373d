"""ASGI entry point: HTTP goes to Django, WebSocket to the realtime app's routing."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")
# Django must be set up before the consumers (and their model imports) load.
django_asgi_app = get_asgi_application()

from realtime.routing import build_application  # noqa: E402

application = build_application(django_asgi_app)
