"""Keeping secrets out of logs, and fixes to daphne 4.2.3 (installed when daphne runs).

- The WebSocket JWT travels in the query string. daphne's access log writes the full URI
  of plain HTTP requests (a browser opening the WebSocket URL, a proxy's health check), and
  debug logging may print request lines: both go through `redact` (core.logs). The access
  log goes through the `daphne.access` logger instead of stdout, so it takes the
  configured format (a JSON line under LOG_FORMAT=json) and level (off by default: a
  line per WebSocket event; core.middleware logs each HTTP request).
- daphne drops the `reason` of an ASGI `websocket.close` (django/daphne#374), and closes
  through autobahn's sendClose, which raises for the protocol codes 1008 and 1009 (it
  allows an application only 1000 and 3000-4999). Clients are promised these codes with a
  short reason (docs/PROTOCOL.md), so an open socket is closed with the frame itself,
  the reason truncated to the 123 bytes a close frame can carry.
- A reply sent after the client began closing is dropped instead of raising into the
  application, and a frame over daphne's size limit closes with 1009, not a dropped
  connection (1006).
- A room event's frame is built once per process, not once per socket (_prepared), and
  a frame is written to the socket at once when nothing is queued before it (_write_now).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from django.conf import settings

from core.logs import REDACTED, RedactCredentials, redact
from realtime import shutdown
from realtime.limits import CLOSE_TOO_SLOW, TOO_SLOW

logger = logging.getLogger(__name__)

__all__ = ["REDACTED", "RedactCredentials", "install", "redact"]

access_logger = logging.getLogger("daphne.access")


def install() -> None:
    """Redact every handler of the root logger; patch daphne if it is the server."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactCredentials) for f in handler.filters):
            handler.addFilter(RedactCredentials())
    if "daphne.server" in sys.modules:
        _patch_daphne()
        _drain_on_sigterm()


def _drain_on_sigterm() -> None:
    """On SIGTERM, stop accepting, close every socket with 1012 once its message in hand is
    answered, then stop, within SHUTDOWN_TIMEOUT_SECONDS. A second SIGTERM stops at once.

    daphne's own shutdown cancels every connection's application at once (the clients see
    1006), so the drain runs before the reactor is asked to stop."""
    from twisted.internet import reactor as installed_reactor
    from twisted.internet.tcp import Port

    # Twisted types the global reactor in a way mypy cannot follow (its methods read as
    # unbound functions).
    reactor: Any = installed_reactor

    stop_now = reactor.sigTerm
    tasks: list[asyncio.Task[int]] = []

    def drain() -> None:
        for reader in list(reactor.getReaders()):
            if isinstance(reader, Port):
                reader.stopListening()
        # The server's own shutdown (cancelling what is left) needs a moment after this.
        timeout = max(0.5, settings.SHUTDOWN_TIMEOUT_SECONDS - 2)
        task = asyncio.get_event_loop().create_task(shutdown.drain(timeout=timeout))
        task.add_done_callback(lambda _: reactor.stop())
        tasks.append(task)

    def sigterm(number: int, frame: Any = None) -> None:
        if tasks:
            stop_now(number, frame)
            return
        logger.info("SIGTERM: draining the sockets before stopping")
        reactor.callFromThread(drain)

    # Read by the reactor when it installs its signal handlers, in reactor.run().
    reactor.sigTerm = sigterm


def _unsent_bytes(transport: Any) -> int:
    """What a Twisted TCP transport holds for its client and could not write yet."""
    buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    return buffered + getattr(transport, "_tempDataLen", 0)


# The last text framed, and its frame. The hub writes one room event's text (the same str
# object) to every socket of a room in turn: server frames are unmasked, so the bytes on
# the wire are the same for all of them, and autobahn frames the text once
# (PreparedMessage) instead of once per socket. A text that is not the last one (a reply,
# a personalised event) is framed anew; the cache holds one entry.
_last_prepared: tuple[str, Any] | None = None


def _prepared(factory: Any, text: str) -> Any:
    global _last_prepared
    if _last_prepared is None or _last_prepared[0] is not text:
        _last_prepared = (text, factory.prepareMessage(text.encode("utf8")))
    return _last_prepared[1]


# Twisted's plain TCP connection class, set when daphne is patched (Twisted is imported
# only where daphne runs).
_tcp_connection: Any = None


def _write_now(protocol: Any, frame: bytes) -> None:
    """Write a frame to the socket at once when nothing is queued before it.

    Twisted's transport.write only buffers and registers the socket for writability, and
    the reactor writes on its next turn: per message and socket, two epoll_ctl calls and
    the selector's bookkeeping (a third of a delivery's CPU at 10,000 sockets, py-spy,
    docs/PERFORMANCE.md). A socket whose kernel buffer has room takes the frame now, as
    asyncio's own transports do; the rest (or all of it, when anything is queued in
    autobahn or Twisted, so order holds) goes through transport.write, which also meets
    any socket error and closes the connection the usual way. (autobahn's outgoing size
    check is not applied here: daphne's --websocket-max-message-size is the limit of what
    a client may send; what the server sends, a large contest_state say, goes out.)"""
    transport = protocol.transport
    if (
        not protocol.send_queue
        # A plain TCP connection only: behind TLS (an ssl: endpoint wraps the transport in
        # TLSMemoryBIOProtocol, which passes attribute reads through to the TCP one) the
        # bytes must go through the TLS layer.
        and _tcp_connection is not None
        and isinstance(transport, _tcp_connection)
        and not transport.TLS
        and getattr(transport, "connected", False)
        and not getattr(transport, "_writeDisconnected", True)
        and getattr(transport, "producer", None) is None
        and _unsent_bytes(transport) == 0
    ):
        try:
            sent = transport.socket.send(frame)
        except OSError:
            sent = 0  # full (EAGAIN), or broken: transport.write handles both
        if sent == len(frame):
            return
        frame = frame[sent:]
    transport.write(frame)


def _patch_daphne() -> None:
    global _tcp_connection
    from autobahn.util import encode_truncate
    from daphne.access import AccessLogGenerator
    from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
    from twisted.internet.tcp import Connection

    if getattr(WebSocketProtocol.handle_reply, "passes_close_reason", False):
        return
    _tcp_connection = Connection
    handle_reply = WebSocketProtocol.handle_reply

    def redacted_write_entry(
        self: Any,
        host: Any,
        date: Any,
        request: str,
        status: Any = None,
        length: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        access_logger.info("%s %s %s %s", host, redact(request), status or "-", length or "-")

    def handle_reply_with_reason(self: Any, message: dict[str, Any]) -> None:
        if self.state != self.STATE_OPEN and message.get("type") in (
            "websocket.send",
            "websocket.close",
        ):
            # The client hung up while its reply was on its way (the close handshake has
            # begun): there is no one to send it to. autobahn would raise "Attempt to send
            # on a closed protocol" into the application.
            return
        if (
            message.get("type") == "websocket.send"
            and _unsent_bytes(self.transport) > settings.WS_MAX_SEND_BUFFER_BYTES
        ):
            # A client that does not read (stuck, or too slow for the room) would make the
            # server hold everything for it: it is closed instead, and resyncs if it comes
            # back. Nobody else waits for it: writes never block the room.
            logger.info("Closing a client that does not read (%d %s)", CLOSE_TOO_SLOW, TOO_SLOW)
            self.sendCloseFrame(code=CLOSE_TOO_SLOW, reasonUtf8=TOO_SLOW.encode())
            return
        if message.get("type") == "websocket.close":
            reason = message.get("reason")
            self.sendCloseFrame(
                code=message.get("code") or 1000,
                reasonUtf8=encode_truncate(reason, 123) if reason else None,
            )
            return
        text = message.get("text")
        if (
            text
            and message.get("type") == "websocket.send"
            and self.state == self.STATE_OPEN
            and self._perMessageCompress is None
            and not message.get("bytes")
        ):
            _write_now(self, _prepared(self.factory, text).payloadHybi)
            return
        handle_reply(self, message)

    # The mark that install() checks above; mypy has no notion of attributes set on a
    # function.
    handle_reply_with_reason.passes_close_reason = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = redacted_write_entry
    WebSocketProtocol.handle_reply = handle_reply_with_reason

    factory_init = WebSocketFactory.__init__

    def factory_init_closing_with_a_frame(self: Any, *args: Any, **kwargs: Any) -> None:
        factory_init(self, *args, **kwargs)
        # autobahn drops the TCP connection on a protocol failure (failByDrop), so a client
        # sending a frame over daphne's size limit saw 1006; with a close frame it gets the
        # 1009 "message too big" the protocol documents.
        self.setProtocolOptions(failByDrop=False)

    WebSocketFactory.__init__ = factory_init_closing_with_a_frame
