"""Notices about a subscription (not digests): "you're already subscribed"."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from digest import links
from digest.mail.dkim import DkimSigner
from digest.render.digest import render_parts
from digest.render.message import build_message
from digest.settings import Settings


def render_already_subscribed(
    settings: Settings, *, subscriber_id: int, email: str
) -> EmailMessage:
    """Answer to the subscribe form for an active address: its preferences and unsubscribe links."""
    unsubscribe = links.unsubscribe_url(settings, subscriber_id, email)
    context = {
        "list_name": settings.list_name,
        "email": email,
        "contact": settings.contact,
        "postal_address": settings.postal_address,
        "home_url": links.home_url(settings),
        "header_date": None,
        "style_nonce": None,
        "preferences_url": links.preferences_url(settings, subscriber_id, email),
        "unsubscribe_url": unsubscribe,
    }
    subject, text, html = render_parts("already_subscribed", context)
    message = build_message(
        settings,
        to=email,
        subject=subject,
        text=text,
        html=html,
        message_id=make_msgid("notice", domain=settings.sender_domain),
        headers={
            "List-Id": settings.list_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    signer = DkimSigner.from_settings(settings)
    return signer.sign(message) if signer else message
