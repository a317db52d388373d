"""The ids that cross the edges between apps and to clients.

Every id is a UUID. It arrives as the UUID the ORM loaded, or as its text from a URL, a
WebSocket message or a Redis member; the ORM's lookups take either, and `str()` of either
is the form clients and Redis keys see. The aliases name which object an id is of.
"""

from __future__ import annotations

import uuid
from typing import TypeAlias

ContestId: TypeAlias = uuid.UUID | str
QuestionId: TypeAlias = uuid.UUID | str
ParticipantId: TypeAlias = uuid.UUID | str
UserId: TypeAlias = uuid.UUID | str
