"""One subscriber's digest (a thin wrapper over DigestRenderer), and the confirmation email."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from digest import links
from digest.papers import EditionEntry
from digest.render.dkim import DkimSigner
from digest.render.inline import inline_css
from digest.render.message import NO_HEADERS, build_message
from digest.render.renderer import DigestRenderer
from digest.render.templates import environment
from digest.settings import Settings

__all__ = ["inline_css", "render_confirmation", "render_digest", "render_parts"]


def render_digest(
    settings: Settings,
    *,
    subscriber_id: int,
    email: str,
    edition_date: date,
    entries: Sequence[EditionEntry],
    sample: bool = False,
    weekly: bool = False,
) -> EmailMessage:
    """The digest email for one subscriber and edition; for many, reuse a DigestRenderer."""
    renderer = DigestRenderer(settings, edition_date, weekly=weekly, sample=sample)
    return renderer.render(subscriber_id=subscriber_id, email=email, entries=entries)


def render_confirmation(settings: Settings, *, subscriber_id: int, email: str) -> EmailMessage:
    """The double opt-in email: one link that activates the subscription."""
    return render_notice(
        settings,
        "confirm",
        email=email,
        context={
            "confirm_url": links.confirm_url(settings, subscriber_id, email),
            "expires_hours": settings.confirm_max_age_hours,
        },
    )


def render_notice(
    settings: Settings,
    kind: str,
    *,
    email: str,
    context: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A one-off email about a subscription (not a digest) from templates/email/<kind>/,
    on the shared layout, DKIM-signed when configured."""
    subject, text, html = render_parts(
        kind,
        {
            "list_name": settings.list_name,
            "email": email,
            "contact": settings.contact,
            "postal_address": settings.postal_address,
            "home_url": links.home_url(settings),
            "header_date": None,
            "style_nonce": None,
            **context,
        },
    )
    message = build_message(
        settings,
        to=email,
        subject=subject,
        text=text,
        html=html,
        message_id=make_msgid(kind, domain=settings.sender_domain),
        headers=headers or NO_HEADERS,
    )
    signer = DkimSigner.from_settings(settings)
    return signer.sign(message) if signer else message


def render_parts(kind: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and CSS-inlined HTML from templates/email/<kind>/."""
    env = environment()
    subject = env.get_template(f"email/{kind}/subject.txt").render(context)
    text = env.get_template(f"email/{kind}/body.txt").render(context)
    html = env.get_template(f"email/{kind}/body.html").render(context)
    return subject, text, inline_css(html)
