"""The text of a server message (docs/PROTOCOL.md, "Envelope"), and what the fan-out reads
back from a room event's text without decoding it.

A room event's envelope is built once and logged with `seq` and `epoch` appended as its
last fields (realtime.outbound.log), so the event name is always first and the position
always last: both are read by position in the text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils import timezone

from core.time import iso

_EVENT_PREFIX = '{"event":"'
_POSITION_TAIL = re.compile(r',"seq":(\d+),"epoch":"([^"]*)"}$')

# (seq, epoch) of a logged room event.
Position = tuple[int, str]


def envelope(event: str, data: dict[str, Any], *, request_id: str | None = None) -> str:
    """A direct reply or an ephemeral event, serialised."""
    body: dict[str, Any] = {"event": event, "data": data, "timestamp": iso(timezone.now())}
    if request_id is not None:
        body["requestId"] = request_id
    return json.dumps(body, separators=(",", ":"))


def open_envelope(event: str, data: dict[str, Any]) -> str:
    """A room event's envelope without its closing brace: the log appends seq and epoch."""
    return envelope(event, data)[:-1]


def event_of(text: str) -> str:
    """The event name of an envelope built here (it always comes first)."""
    return text[len(_EVENT_PREFIX) : text.find('"', len(_EVENT_PREFIX))]


def log_position(text: str) -> Position | None:
    """(seq, epoch) of a logged room event's text; None for an ephemeral event."""
    start = text.rfind(',"seq":', max(0, len(text) - 100))
    if start < 0:
        return None
    match = _POSITION_TAIL.match(text, start)
    return (int(match[1]), match[2]) if match else None


def covers(floor: Position | None, position: Position | None) -> bool:
    """Whether a socket at `floor` (seq, epoch) already has the event at `position`."""
    return (
        floor is not None
        and position is not None
        and position[1] == floor[1]
        and position[0] <= floor[0]
    )
