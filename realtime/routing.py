"""The ASGI application: HTTP to Django, `/ws/contest` to the contest consumer."""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path

from realtime import daphne_compat, uvicorn_compat
from realtime.consumers import ContestConsumer
from realtime.middleware import JWTAuthMiddleware


async def refuse_unknown_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Any other WebSocket path: refused during the handshake (HTTP 403), no error log."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


def build_application(django_asgi_app: Any) -> ProtocolTypeRouter:
    daphne_compat.install()
    uvicorn_compat.install()
    return ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter(
                [
                    re_path(r"^ws/contest/?$", JWTAuthMiddleware(ContestConsumer.as_asgi())),
                    # Channels' URLRouter takes ASGI applications; the stubs type
                    # re_path's view as a Django view.
                    re_path(r"", refuse_unknown_path),  # type: ignore[arg-type]
                ]
            ),
        }
    )
