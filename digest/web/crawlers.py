"""What search engines may index: the landing page and the public archive, nothing else.

Every other answer (pages reached by a token, the dashboard, forms' answers, error pages,
JSON) carries `X-Robots-Tag: noindex, nofollow`, its HTML also `<meta name="robots">`, and
robots.txt disallows the paths that hold them.
"""

from __future__ import annotations

import re

from starlette.types import Scope

NOINDEX = "noindex, nofollow"
# Paths (below DIGEST_BASE_URL's own) anyone may index: /, /archive, /archive/YYYY-MM-DD,
# the archive's feed, and what crawlers fetch about the site itself.
PUBLIC = re.compile(
    r"/|/archive|/archive/\d{4}-\d{2}-\d{2}|/archive\.atom|/robots\.txt|/favicon\.(ico|svg)"
)
# Each prefix also covers what lies under it (/preferences/export, /unsubscribe/weekly, …).
DISALLOWED = (
    "/admin",
    "/confirm",
    "/feed.atom",
    "/feedback",
    "/healthz",
    "/metrics",
    "/preferences",
    "/rate",
    "/resubscribe",
    "/subscribe",
    "/unsubscribe",
    "/webhooks",
)


def route_path(scope: Scope) -> str:
    """The request's path below the app's root path, as the routes see it."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(f"{root}/"):
        return path[len(root) :]
    return path


def indexable(path: str, status: int, carries_token: bool) -> bool:
    """True for a public page answered 200 to a request without a link token."""
    return status == 200 and not carries_token and PUBLIC.fullmatch(path) is not None


def robots_txt(root: str) -> str:
    """The robots.txt for an app served at `root` ("" at the host's root)."""
    lines = ["User-agent: *", *(f"Disallow: {root}{path}" for path in DISALLOWED)]
    return "\n".join(lines) + "\n"
