"""gzip for answers that carry no secret a length side channel could read (BREACH).

BREACH guesses a secret in a compressed response from its size, across many requests that
reflect the attacker's guesses. Our pages' one cookie-bound secret, the CSRF field, is
masked afresh on every page (`Csrf`); a link token on a page is the one its request
carried, so whoever could send that request knows it already. What stays uncompressed is
every answer to a request that carries `Authorization` (the dashboard): a browser attaches
those credentials by itself, like a cookie, to pages full of subscriber data.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Below this many bytes gzip's header and framing win back nothing worth the time.
MINIMUM_BYTES = 500
# zlib's default: within a few per cent of level 9's size, at a fraction of its time.
LEVEL = 6


class Compression:
    """gzip for clients that accept it, but never for requests sent with credentials."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES, compresslevel=LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "authorization" not in Headers(scope=scope):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
