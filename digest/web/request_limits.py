"""Fixed-window request counters in Redis, shared by every web process; without Redis,
counted in this process (one machine, one process needs nothing else)."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from digest.settings import WebSettings

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.25
# One IPv6 customer or host usually holds a whole /64, and picks a fresh address in it at will.
IPV6_CLIENT_PREFIX = 64
WARNING_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Limit:
    count: int
    window_seconds: int


class LocalCounters:
    """The same fixed windows, in this process's memory (old windows are dropped)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window: dict[str, float] = {}
        self._lock = threading.Lock()

    def incr(self, keys: list[str], ends: list[float], now: float) -> list[int]:
        with self._lock:
            for key in [k for k, end in self._window.items() if end <= now]:
                del self._window[key]
                self._counts.pop(key, None)
            counts = []
            for key, end in zip(keys, ends, strict=True):
                self._counts[key] = self._counts.get(key, 0) + 1
                self._window[key] = end
                counts.append(self._counts[key])
            return counts

    def decr(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                if self._window.get(key, 0) > now and self._counts.get(key, 0) > 0:
                    self._counts[key] -= 1

    def peek(self, keys: list[str], now: float) -> list[int]:
        with self._lock:
            return [self._counts.get(k, 0) if self._window.get(k, 0) > now else 0 for k in keys]


class RateLimiter:
    """Counts hits per (bucket, key) and window in Redis; in this process while Redis is
    absent or down (so several web processes then each count their own share)."""

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self.prefix = prefix
        self.client: redis.Redis[bytes] | None = None
        self.local = LocalCounters()
        self._last_warning = 0.0
        if redis_url and urlsplit(redis_url).scheme in ("redis", "rediss", "unix"):
            self.client = redis.Redis.from_url(
                redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            log.warning("rate limits counted in this process: the Redis URL is not redis://")

    def allow(self, hits: list[tuple[str, str, Limit]], now: float | None = None) -> bool:
        """Count one hit on each (bucket, key, limit); False if any is over its limit."""
        if not hits:
            return True
        now = time.time() if now is None else now
        keys = [self._key(bucket, key, limit, now) for bucket, key, limit in hits]
        counts = self._count_in_redis(keys, hits)
        if counts is None:
            ends = [(now // limit.window_seconds + 1) * limit.window_seconds for *_, limit in hits]
            counts = self.local.incr(keys, ends, now)
        return all(int(n) <= limit.count for n, (_, _, limit) in zip(counts, hits, strict=True))

    def refund(self, hits: list[tuple[str, str, Limit]], now: float) -> None:
        """Take back one hit that `allow(hits, now)` counted (same `now`: the same window)."""
        keys = [self._key(bucket, key, limit, now) for bucket, key, limit in hits]
        if self.client is not None:
            try:
                with self.client.pipeline(transaction=True) as pipe:
                    for key, (_, _, limit) in zip(keys, hits, strict=True):
                        # The key names its window, so one that expired meanwhile is never
                        # read again: its -1 only needs to expire too.
                        pipe.decr(key)
                        pipe.expire(key, limit.window_seconds + 1)
                    pipe.execute()
                return
            except redis.RedisError as exc:
                self._warn(exc)
        self.local.decr(keys, time.time())

    def over(self, hits: list[tuple[str, str, Limit]], now: float | None = None) -> bool:
        """Whether any (bucket, key, limit) has already gone past its limit; counts nothing."""
        if not hits:
            return False
        now = time.time() if now is None else now
        keys = [self._key(bucket, key, limit, now) for bucket, key, limit in hits]
        counts: list[int] | None = None
        if self.client is not None:
            try:
                counts = [int(n or 0) for n in self.client.mget(keys)]
            except redis.RedisError as exc:
                self._warn(exc)
        if counts is None:
            counts = self.local.peek(keys, now)
        return any(n > limit.count for n, (_, _, limit) in zip(counts, hits, strict=True))

    def _count_in_redis(
        self, keys: list[str], hits: list[tuple[str, str, Limit]]
    ) -> list[int] | None:
        if self.client is None:
            return None
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for key, (_, _, limit) in zip(keys, hits, strict=True):
                    pipe.incr(key)
                    pipe.expire(key, limit.window_seconds + 1)
                return [int(n) for n in pipe.execute()[0::2]]
        except redis.RedisError as exc:
            self._warn(exc)
            return None

    def _key(self, bucket: str, key: str, limit: Limit, now: float) -> str:
        # Hashed, so Redis never holds an address or an IP in clear.
        digest = hashlib.sha256(f"{bucket}:{key}".encode()).hexdigest()[:32]
        return f"{self.prefix}:{bucket}:{digest}:{int(now // limit.window_seconds)}"

    def _warn(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARNING_INTERVAL_SECONDS:
            self._last_warning = now
            log.warning(
                "rate limits counted in this process, Redis unavailable: %s", type(exc).__name__
            )

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class SubscribeLimits:
    """The per-IP and per-address limits on asking for subscription emails."""

    def __init__(self, settings: WebSettings, limiter: RateLimiter) -> None:
        window = settings.rate_limit_window_seconds
        self.per_ip = Limit(settings.subscribe_limit_per_ip, window)
        self.per_address = Limit(settings.subscribe_limit_per_address, window)
        self.limiter = limiter

    def allow(self, ip: str, email: str | None) -> bool:
        hits = [("subscribe-ip", client_network(ip), self.per_ip)]
        if email is not None:
            hits.append(("subscribe-address", email, self.per_address))
        return self.limiter.allow(hits)


def client_network(ip: str) -> str:
    """What the per-IP limit counts: an IPv4 address (IPv4-mapped IPv6 too), an IPv6
    address's /64; anything else (no peer address) as it is."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        shift = 128 - IPV6_CLIENT_PREFIX
        network = ipaddress.IPv6Network((int(address) >> shift << shift, IPV6_CLIENT_PREFIX))
        return str(network)
    return str(address)


def limiter_for(web: WebSettings) -> RateLimiter:
    """The limiter of this instance; the queue name keeps two instances' counters apart."""
    return RateLimiter(web.rate_limit_redis_url, f"digest:{web.task_queue}:ratelimit")
