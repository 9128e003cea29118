"""Turn ranked edition entries into per-subscriber email messages and the public web view."""

from digest.render.archive import render_archive_html
from digest.render.digest import render_digest
from digest.render.message import build_message, digest_message_id
from digest.render.renderer import DigestRenderer

__all__ = [
    "DigestRenderer",
    "build_message",
    "digest_message_id",
    "render_archive_html",
    "render_digest",
]
