"""Render one subscriber's digest, and the double opt-in confirmation, as email messages."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from premailer import Premailer

from digest import links
from digest.rank.entries import EditionEntry
from digest.render.message import build_message, digest_message_id
from digest.render.templates import environment
from digest.settings import Settings


def render_digest(
    settings: Settings,
    *,
    subscriber_id: int,
    email: str,
    edition_date: date,
    entries: Sequence[EditionEntry],
    sample: bool = False,
) -> EmailMessage:
    """The digest email for one subscriber and edition, entries shown in rank order."""
    unsubscribe = links.unsubscribe_url(settings, subscriber_id, email)
    context = {
        **_common_context(settings, email),
        "entries": sorted(entries, key=lambda entry: entry.rank),
        "sample": sample,
        "header_date": f"{edition_date:%A} {edition_date.day} {edition_date:%B %Y}",
        "short_date": f"{edition_date:%a} {edition_date.day} {edition_date:%b}",
        "unsubscribe_url": unsubscribe,
        "preferences_url": links.preferences_url(settings, subscriber_id, email),
        "archive_url": links.archive_url(settings, edition_date),
    }
    subject, text, html = render_parts("digest", context)
    return build_message(
        settings,
        to=email,
        subject=subject,
        text=text,
        html=html,
        message_id=digest_message_id(settings, subscriber_id, edition_date),
        headers={
            "List-Id": settings.list_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def render_confirmation(settings: Settings, *, subscriber_id: int, email: str) -> EmailMessage:
    """The double opt-in email: one link that activates the subscription."""
    context = {
        **_common_context(settings, email),
        "header_date": None,
        "confirm_url": links.confirm_url(settings, subscriber_id, email),
        "expires_hours": settings.confirm_max_age_hours,
    }
    subject, text, html = render_parts("confirm", context)
    return build_message(
        settings,
        to=email,
        subject=subject,
        text=text,
        html=html,
        message_id=make_msgid("confirm", domain=settings.sender_domain),
    )


def _common_context(settings: Settings, email: str) -> dict[str, Any]:
    return {
        "list_name": settings.list_name,
        "email": email,
        "contact": settings.contact,
        "home_url": links.home_url(settings),
    }


def render_parts(kind: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and CSS-inlined HTML from templates/email/<kind>/."""
    env = environment()
    subject = env.get_template(f"email/{kind}/subject.txt").render(context)
    text = env.get_template(f"email/{kind}/body.txt").render(context)
    html = env.get_template(f"email/{kind}/body.html").render(context)
    return subject, text, inline_css(html)


def inline_css(html: str) -> str:
    """Copy the <style> rules onto each element; keep the block for the @media rules."""
    # The @media rules need their !important to beat the inlined styles.
    return str(
        Premailer(
            html,
            keep_style_tags=True,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
    )
