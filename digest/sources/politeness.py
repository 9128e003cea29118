"""arXiv's rule, kept across every worker: one request at a time, `interval` seconds apart.

The turn is one Redis key set with NX. Its holder makes one request, then, instead of
deleting the key, shortens its life to `interval`: the next holder can only start once the
interval after the previous request's end has passed. A crashed holder's key expires by
itself after `hold_seconds`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import urlsplit

import redis

from digest.errors import SourceError

logger = logging.getLogger("digest.sources.politeness")

Gate = Callable[[], AbstractContextManager[object]]

# Shorten the key's life only if we still hold it (a slow holder may have lost it).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisGate:
    """A turn shared by every process that uses the same Redis and key."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        key: str,
        interval_seconds: float,
        hold_seconds: float = 120.0,
        wait_seconds: float = 600.0,
    ) -> None:
        self.client = client
        self.key = key
        self.interval_ms = max(1, int(interval_seconds * 1000))
        self.hold_ms = int(hold_seconds * 1000)
        self.wait_seconds = wait_seconds
        self._release = client.register_script(_RELEASE)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the turn, hold it for the block, then keep others out for the interval."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        try:
            while not self.client.set(self.key, token, nx=True, px=self.hold_ms):
                if time.monotonic() > deadline:
                    raise SourceError(
                        f"arXiv: waited {self.wait_seconds:g} s for our turn to make a request"
                    )
                remaining_ms = self.client.pttl(self.key)
                time.sleep(min(max(remaining_ms, 5), 500) / 1000)
        except redis.RedisError as exc:
            raise SourceError(f"arXiv: the shared request lock in Redis failed: {exc}") from None
        try:
            yield
        finally:
            try:
                self._release(keys=[self.key], args=[token, self.interval_ms])
            except redis.RedisError as exc:
                # The key still expires after hold_seconds; others wait longer, nobody collides.
                logger.warning("could not release the arXiv request lock: %s", exc)


class LocalGate:
    """The same rule inside one process, for setups without Redis (one CLI process)."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._lock = threading.Lock()
        self._free_at = 0.0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the process-wide turn for the block, `interval` after the previous one ended."""
        with self._lock:
            time.sleep(max(0.0, self._free_at - time.monotonic()))
            try:
                yield
            finally:
                self._free_at = time.monotonic() + self.interval


ARXIV_LOCK_KEY = "digest:arxiv:turn"
_local_gates: dict[float, LocalGate] = {}


def arxiv_gate(
    redis_url: str, interval_seconds: float, hold_seconds: float, wait_seconds: float = 600.0
) -> Gate:
    """The shared Redis turn; a process-local one (with a warning) when Redis is unreachable.
    `wait_seconds`: how long to wait for the turn before giving up (SourceError)."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        logger.warning(
            "Redis at %s unreachable (%s): arXiv requests are spaced within this process only",
            urlsplit(redis_url).netloc.rpartition("@")[2],  # never log a password
            exc,
        )
        return _local_gates.setdefault(interval_seconds, LocalGate(interval_seconds)).turn
    return RedisGate(client, ARXIV_LOCK_KEY, interval_seconds, hold_seconds, wait_seconds).turn
