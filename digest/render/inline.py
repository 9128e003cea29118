"""premailer, configured once: copy the first <style> onto the elements, keep the one marked
`data-premailer="ignore"` as the email's stylesheet."""

from __future__ import annotations

import logging

from premailer import Premailer

# premailer would turn `width`, `background-color`… into HTML attributes on every element
# they reach, including <body>, <p> and <a>, where HTML has no such attribute; the
# templates write the attributes that clients need (on tables and cells) themselves.
NO_PRESENTATIONAL_ATTRIBUTES = ["align", "valign", "bgcolor", "width", "height"]


def inline_css(html: str) -> str:
    """Copy the <style> rules onto each element; a block marked data-premailer="ignore" (and
    any @media rules) stays in a <style> block."""
    # The @media rules need their !important to beat the inlined styles.
    return str(
        Premailer(
            html,
            keep_style_tags=False,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            disable_basic_attributes=NO_PRESENTATIONAL_ATTRIBUTES,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
    )
