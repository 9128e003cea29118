"""Notices about a subscription (not digests): "you're already subscribed"."""

from __future__ import annotations

from email.message import EmailMessage

from digest import links
from digest.render.digest import render_notice
from digest.settings import Settings


def render_already_subscribed(
    settings: Settings, *, subscriber_id: int, email: str
) -> EmailMessage:
    """Answer to the subscribe form for an active address: its preferences and unsubscribe links."""
    unsubscribe = links.unsubscribe_url(settings, subscriber_id, email)
    return render_notice(
        settings,
        "already_subscribed",
        email=email,
        context={
            "preferences_url": links.preferences_url(settings, subscriber_id, email),
            "unsubscribe_url": unsubscribe,
        },
        headers={
            "List-Id": settings.list_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
