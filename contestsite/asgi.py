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
# sockets. With CPython's default thresholds that triggers frequent collections, the full
# ones walking every live object, Django's startup heap included: about a quarter of the
# broadcast path (bench/ws_broadcast.py at 3,000 sockets: 78 -> 60 us per delivered
# message, p99 496 -> 217 ms). Startup objects are never garbage: freeze them, and
# collect less often. Only in the server: a test process importing the application keeps
# CPython's defaults.
if "daphne.server" in sys.modules:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*(int(x) for x in os.environ.get("GC_THRESHOLDS", "50000,20,100").split(",")))
