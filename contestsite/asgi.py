"""ASGI entry point: HTTP goes to Django, WebSocket to the realtime app's routing."""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")
# Django must be set up before the consumers (and their model imports) load.
django_asgi_app = get_asgi_application()

from core.periodic import periodic_install  # noqa: E402
from realtime.routing import build_application  # noqa: E402

# Without REDIS_URL the periodic tasks (the contest clock) run inside this server.
application = periodic_install(build_application(django_asgi_app))

# A server process allocates a little for every message it delivers to thousands of
# sockets; the full collections walk every live object, Django's startup heap included.
# Startup objects are never garbage: freeze them, so collections skip them. The
# thresholds stay CPython's: raising the first one (50,000 allocations) made the broadcast
# path faster but kept memory growing by about 3.7 KB per socket that came and went
# (bench/churn.py: +40 % RSS after 16,000 connections; +2 % after 21,000 with these).
# Only in a server (daphne, or uvicorn and granian as bench/ws_common.py runs them): a test
# process importing the application is left as it is.
if any(server in sys.modules for server in ("daphne.server", "uvicorn.server", "granian")):
    gc.collect()
    gc.freeze()
