"""The dashboard's credential: a self-describing scrypt line, `scrypt$n$r$p$salt$hash`,
made and checked with the standard library alone; and the small pool that checks it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from digest.errors import ConfigError

SCHEME = "scrypt"
DEFAULT_N = 2**14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_N = 2**20  # keeps a hand-edited line from asking for gigabytes per login
MAX_MEMORY = 256 * 1024 * 1024
# Each check takes n*r*128 bytes (16 MiB at the defaults) for its duration, so the number that
# run at once, on threads of their own, bounds the memory a burst of logins can take.
CHECKS_RUNNING = 2
CHECKS_WAITING = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def line(self) -> str:
        return f"{SCHEME}${self.n}${self.r}${self.p}${_b64(self.salt)}${_b64(self.key)}"

    def matches(self, password: str) -> bool:
        """Whether `password` derives this key; the same work whatever it is."""
        derived = _derive(password, self.salt, self.n, self.r, self.p, len(self.key))
        return hmac.compare_digest(derived, self.key)


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=length
    )


def hash_password(password: str) -> PasswordHash:
    """A fresh salted scrypt hash of `password`."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, DEFAULT_N, DEFAULT_R, DEFAULT_P, KEY_BYTES)
    return PasswordHash(DEFAULT_N, DEFAULT_R, DEFAULT_P, salt, key)


def parse_password_hash(line: str) -> PasswordHash:
    """The hash a `scrypt$n$r$p$salt$hash` line describes (ConfigError if it is not one)."""
    parts = line.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ConfigError(
            "DIGEST_ADMIN_PASSWORD_HASH is not a scrypt$n$r$p$salt$hash line "
            "(make one with `digest admin hash-password`)"
        )
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ConfigError("DIGEST_ADMIN_PASSWORD_HASH has a malformed number or base64") from None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not power_of_two or n > MAX_N or not 1 <= r <= 32 or not 1 <= p <= 16 or len(key) < 16:
        raise ConfigError("DIGEST_ADMIN_PASSWORD_HASH has out-of-range scrypt parameters")
    return PasswordHash(n, r, p, salt, key)


class ChecksBusy(Exception):
    """As many password checks are running and waiting as the process allows (503)."""


class PasswordChecks:
    """Runs password checks on `running` threads of its own, with at most `waiting` more
    queued; past that a check is refused at once rather than queued without end."""

    def __init__(self, running: int = CHECKS_RUNNING, waiting: int = CHECKS_WAITING) -> None:
        self._pool = ThreadPoolExecutor(max_workers=running, thread_name_prefix="password-check")
        self._slots = threading.BoundedSemaphore(running + waiting)

    async def run(self, check: Callable[[], bool]) -> bool:
        """The result of `check()`, run on the pool; ChecksBusy if the queue is full."""
        if not self._slots.acquire(blocking=False):
            raise ChecksBusy
        try:
            return await asyncio.wrap_future(self._pool.submit(check))
        finally:
            self._slots.release()


# One per process, shared by every app in it: the bound is on the process's memory.
PASSWORD_CHECKS = PasswordChecks()
