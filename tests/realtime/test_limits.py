"""Connection slots in Redis (the handshake's side of them is in test_middleware.py)."""

from __future__ import annotations

import uuid

from core.redis import get_async_redis, redis_key
from realtime.limits import ConnectionSlots
from tests.realtime.conftest import run


def test_a_refresh_does_not_bring_back_a_slot_released_meanwhile():
    user = uuid.uuid4()
    key = redis_key("ws", "slots", user)

    async def scenario():
        slots, redis = ConnectionSlots(), get_async_redis()
        released = await slots.acquire(user)
        kept = await slots.acquire(user)
        # A release's ZREM that lands after a refresh read the local slots but before its
        # script ran: the refresh still names the released slot.
        await redis.zrem(key, released)
        await slots.refresh()
        members = await redis.zrange(key, 0, -1)
        for slot in (released, kept):
            await slots.release(user, slot)
        return kept, members

    kept, members = run(scenario)
    assert members == [kept]
