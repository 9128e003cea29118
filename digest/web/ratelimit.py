"""Fixed-window request counters in Redis, shared by every web process; fail open."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from digest.settings import Settings

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.25
WARNING_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Limit:
    count: int
    window_seconds: int


class RateLimiter:
    """Counts hits per (bucket, key) and window; lets everything through if Redis is down."""

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self.prefix = prefix
        self.client: redis.Redis[bytes] | None = None
        self._last_warning = 0.0
        if redis_url and urlsplit(redis_url).scheme in ("redis", "rediss", "unix"):
            self.client = redis.Redis.from_url(
                redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            log.warning("rate limits are off: the Redis URL is not a redis:// address")

    def allow(self, hits: list[tuple[str, str, Limit]], now: float | None = None) -> bool:
        """Count one hit on each (bucket, key, limit); False if any is over its limit."""
        if self.client is None or not hits:
            return True
        now = time.time() if now is None else now
        keys = [self._key(bucket, key, limit, now) for bucket, key, limit in hits]
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for key, (_, _, limit) in zip(keys, hits, strict=True):
                    pipe.incr(key)
                    pipe.expire(key, limit.window_seconds + 1)
                counts = pipe.execute()[0::2]
        except redis.RedisError as exc:
            self._warn(exc)
            return True
        return all(int(n) <= limit.count for n, (_, _, limit) in zip(counts, hits, strict=True))

    def _key(self, bucket: str, key: str, limit: Limit, now: float) -> str:
        # Hashed, so Redis never holds an address or an IP in clear.
        digest = hashlib.sha256(f"{bucket}:{key}".encode()).hexdigest()[:32]
        return f"{self.prefix}:{bucket}:{digest}:{int(now // limit.window_seconds)}"

    def _warn(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            log.warning("rate limits skipped, Redis unavailable: %s", type(exc).__name__)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class SubscribeLimits:
    """The per-IP and per-address limits on asking for subscription emails."""

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        window = settings.rate_limit_window_seconds
        self.per_ip = Limit(settings.subscribe_limit_per_ip, window)
        self.per_address = Limit(settings.subscribe_limit_per_address, window)
        self.limiter = limiter

    def allow(self, ip: str, email: str | None) -> bool:
        hits = [("subscribe-ip", ip, self.per_ip)]
        if email is not None:
            hits.append(("subscribe-address", email, self.per_address))
        return self.limiter.allow(hits)


def limiter_for(settings: Settings) -> RateLimiter:
    """The limiter of this instance; the queue name keeps two instances' counters apart."""
    return RateLimiter(settings.rate_limit_redis_url, f"digest:{settings.task_queue}:ratelimit")
