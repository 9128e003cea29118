"""Turn ranked edition entries into per-subscriber email messages."""

from digest.render.digest import render_confirmation, render_digest
from digest.render.message import build_message, digest_message_id

__all__ = ["build_message", "digest_message_id", "render_confirmation", "render_digest"]
