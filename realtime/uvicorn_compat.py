"""What the contest server needs from uvicorn (0.54, its `websockets-sansio` protocol),
the web server of the Procfile and `make run` (docs/PERFORMANCE.md, "The ASGI server").
Installed when uvicorn runs; realtime.daphne_compat does the same for daphne.

- A room event's frame is built once per process, not once per socket (_frame): server
  frames are unmasked, so its bytes are the same for every socket, and the hub hands the
  same text object to every socket of a room in turn. uvloop writes it to the socket at
  once when nothing is queued before it.
- A client that does not read is closed with 1013 "too slow" once more than
  WS_MAX_SEND_BUFFER_BYTES wait for it. uvicorn would make every send to it wait until it
  reads (its `writable` event), and the hub writes a room's sockets in turn: one stuck
  client would hold the room. A closed client that does not answer the close frame, or
  one that stopped answering pings, is dropped (1006) instead of its transport waiting
  forever to write what the client does not read.
- A reply sent after the client began closing is dropped (uvicorn raises
  ClientDisconnected, or a RuntimeError after a close frame, into the application), and a
  close reason is cut to the 123 bytes a close frame can carry.
- On SIGTERM the sockets are drained first (realtime.shutdown: 1012 once the message in
  hand is answered), then uvicorn's own shutdown runs, within SHUTDOWN_TIMEOUT_SECONDS;
  a second Ctrl-C cuts the drain short.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import sys
from typing import Any

from django.conf import settings

from realtime import shutdown
from realtime.limits import CLOSE_TOO_SLOW, TOO_SLOW

logger = logging.getLogger(__name__)

TEXT_FRAME = 0x81  # FIN and the text opcode

# The last text framed, and its frame (one entry: a reply or a personalised event is
# framed anew).
_last_frame: tuple[str, bytes] | None = None


def _frame(text: str) -> bytes:
    """The unmasked WebSocket text frame of `text` (RFC 6455, 5.2)."""
    global _last_frame
    if _last_frame is None or _last_frame[0] is not text:
        payload = text.encode()
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", TEXT_FRAME, size)
        elif size < 65536:
            header = struct.pack("!BBH", TEXT_FRAME, 126, size)
        else:
            header = struct.pack("!BBQ", TEXT_FRAME, 127, size)
        _last_frame = (text, header + payload)
    return _last_frame[1]


def _reason(reason: str) -> str:
    """A close reason a close frame can carry: at most 123 bytes of UTF-8."""
    return reason.encode()[:123].decode(errors="ignore")


def install() -> None:
    if "uvicorn.server" in sys.modules:
        _patch_uvicorn()


def _close(protocol: Any, code: int, reason: str) -> None:
    """Send the close frame now, whether or not the client reads (uvicorn's own close
    waits until it does), and tell the application. A client that does not answer it
    within uvicorn's close timeout is dropped: a transport that still holds data for a
    client that does not read would never finish closing."""
    protocol.conn.send_close(code, reason)
    protocol.transport.write(b"".join(protocol.conn.data_to_send()))
    protocol.close_sent = True
    protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
    if protocol.read_paused:
        protocol.read_paused = False
        protocol.transport.resume_reading()
    protocol.close_timer = protocol.loop.call_later(
        protocol.close_timeout, protocol.transport.abort
    )


async def _drain_unless_forced(server: Any, timeout: float) -> None:
    """realtime.shutdown.drain, cut short by a second Ctrl-C (uvicorn's force_exit)."""
    draining = asyncio.ensure_future(shutdown.drain(timeout=timeout))
    try:
        while not draining.done() and not server.force_exit:
            await asyncio.wait({draining}, timeout=0.1)
        if draining.done():
            draining.result()
    finally:
        draining.cancel()


def _patch_uvicorn() -> None:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import Server
    from websockets.protocol import State

    if getattr(WebSocketsSansIOProtocol.send, "contest_compat", False):
        return
    send = WebSocketsSansIOProtocol.send
    connection_lost = WebSocketsSansIOProtocol.connection_lost
    keepalive_timeout = WebSocketsSansIOProtocol.keepalive_timeout

    async def send_without_waiting(self: Any, message: Any) -> None:
        kind = message["type"]
        if (
            kind not in ("websocket.send", "websocket.close")
            or not self.handshake_complete
            or self.initial_response is not None
        ):
            await send(self, message)  # the handshake and its answers
            return
        if self.close_sent or self.disconnected or self.conn.state is not State.OPEN:
            # The client hung up, or the close handshake has begun, while this was on its
            # way: there is no one to send it to.
            return
        if kind == "websocket.close":
            _close(self, message.get("code") or 1000, _reason(message.get("reason") or ""))
            return
        if self.transport.get_write_buffer_size() > settings.WS_MAX_SEND_BUFFER_BYTES:
            # Nobody else waits for it: it is closed, and resyncs if it comes back.
            logger.info("Closing a client that does not read (%d %s)", CLOSE_TOO_SLOW, TOO_SLOW)
            _close(self, CLOSE_TOO_SLOW, TOO_SLOW)
            return
        text, data = message.get("text"), message.get("bytes")
        if data is None and text is not None and not self.conn.extensions:
            self.transport.write(_frame(text))
            return
        # Bytes, or text under a negotiated extension (permessage-deflate, when enabled):
        # framed by the protocol, still without waiting for the client.
        if data is not None:
            self.conn.send_binary(data)
        elif text is not None:
            self.conn.send_text(text.encode())
        self.transport.write(b"".join(self.conn.data_to_send()))

    def connection_lost_without_a_close_frame_is_1006(self: Any, exc: Exception | None) -> None:
        if self.conn.close_rcvd is None:
            # Lost without a close frame from the client: 1006 (RFC 6455, 7.1.5), as daphne
            # reports it and the close-code metrics expect; uvicorn would say 1005.
            self.handshake_complete = False
        connection_lost(self, exc)

    def keepalive_timeout_drops_the_connection(self: Any) -> None:
        keepalive_timeout(self)
        # uvicorn closes the transport, which waits for what it holds to be written: a
        # client that stopped answering pings may never read it, and the application
        # would never hear of its end.
        if not self.disconnected:
            self.transport.abort()

    send_without_waiting.contest_compat = True  # type: ignore[attr-defined]
    WebSocketsSansIOProtocol.send = send_without_waiting  # type: ignore[method-assign]
    WebSocketsSansIOProtocol.connection_lost = (  # type: ignore[method-assign]
        connection_lost_without_a_close_frame_is_1006
    )
    WebSocketsSansIOProtocol.keepalive_timeout = (  # type: ignore[method-assign]
        keepalive_timeout_drops_the_connection
    )

    server_shutdown = Server.shutdown

    async def shutdown_after_draining(self: Any, sockets: Any = None) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            for server in self.servers:
                server.close()  # stop accepting; uvicorn's shutdown closes them again
            # uvicorn's own shutdown (closing what is left, waiting for the tasks) needs
            # a moment after this.
            await _drain_unless_forced(self, max(0.5, settings.SHUTDOWN_TIMEOUT_SECONDS - 2))
        finally:
            left = max(0.5, settings.SHUTDOWN_TIMEOUT_SECONDS - (loop.time() - started))
            configured = self.config.timeout_graceful_shutdown
            self.config.timeout_graceful_shutdown = (
                left if configured is None else min(configured, left)
            )
            await server_shutdown(self, sockets)

    Server.shutdown = shutdown_after_draining  # type: ignore[method-assign]
