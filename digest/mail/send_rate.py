"""One send rate for all workers, kept in Redis (Celery's rate_limit is per worker).

GCRA (a leaky bucket without a background drip): Redis keeps the theoretical arrival time
of the next allowed message; a worker that is early learns how long to wait. One Lua call
per message, atomic across every worker and host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import redis

# KEYS[1]: the bucket; ARGV: interval (ms), burst (messages). Returns ms to wait (0: go).
GCRA = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_ms)
if tat < now_ms then tat = now_ms end
local allow_at = tat - interval * burst
if now_ms < allow_at then return allow_at - now_ms end
redis.call('SET', KEYS[1], tat + interval, 'PX', interval * (burst + 1) + 1000)
return 0
"""


class SendLimiter(Protocol):
    def acquire(self) -> None: ...


class Unlimited:
    def acquire(self) -> None:
        return None


class RedisRateLimiter:
    """Blocks in `acquire` until this process may send one more message."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        per_second: float,
        *,
        key: str = "digest:send-rate",
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval_ms = max(round(1000 / per_second), 1)
        self.burst = burst
        self.key = key
        self.sleep = sleep
        self._script = client.register_script(GCRA)

    def acquire(self) -> None:
        while True:
            wait_ms = int(self._script(keys=[self.key], args=[self.interval_ms, self.burst]))
            if wait_ms <= 0:
                return
            self.sleep(wait_ms / 1000)


def make_limiter(redis_url: str, per_second: float, key: str = "digest:send-rate") -> SendLimiter:
    """The shared limiter, or none when the rate is 0 (unlimited)."""
    if per_second <= 0:
        return Unlimited()
    return RedisRateLimiter(redis.Redis.from_url(redis_url), per_second, key=key)
