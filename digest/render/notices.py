"""Subscriber emails that are not digests, from templates/email/<kind>/ on the shared layout."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from digest import links
from digest.render.dkim import DkimSigner
from digest.render.inline import inline_css
from digest.render.message import NO_HEADERS, build_message
from digest.render.templates import environment
from digest.settings import EmailSettings
from digest.tokens import notice_message_id


def render_notice(
    settings: EmailSettings,
    kind: str,
    *,
    email: str,
    context: Mapping[str, Any],
    headers: Mapping[str, str] = NO_HEADERS,
    subscriber_id: int | None = None,
) -> EmailMessage:
    """The email of `kind` to `email`: its templates filled with `context` (over the values
    every email shares), DKIM-signed when configured.

    With `subscriber_id` its Message-ID is signed for that subscriber, so a bounce of it can
    be tied to the address it was sent to."""
    subject, text, html = render_parts(
        settings,
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
        message_id=(
            make_msgid(kind, domain=settings.sender_domain)
            if subscriber_id is None
            else notice_message_id(settings.secret_key, settings.sender_domain, kind, subscriber_id)
        ),
        headers=headers,
    )
    signer = DkimSigner.from_settings(settings)
    return signer.sign(message) if signer else message


def render_parts(
    settings: EmailSettings, kind: str, context: Mapping[str, Any]
) -> tuple[str, str, str]:
    """Subject, plain text and CSS-inlined HTML from templates/email/<kind>/."""
    env = environment(settings.template_dir)
    subject = env.get_template(f"email/{kind}/subject.txt").render(context)
    text = env.get_template(f"email/{kind}/body.txt").render(context)
    html = env.get_template(f"email/{kind}/body.html").render(context)
    return subject, text, inline_css(html)
