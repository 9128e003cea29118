"""premailer, configured once: inline the <style> rules, keep the @media ones."""

from __future__ import annotations

import logging

from premailer import Premailer


def inline_css(html: str) -> str:
    """Copy the <style> rules onto each element; only @media rules stay in a <style> block."""
    # The @media rules need their !important to beat the inlined styles.
    return str(
        Premailer(
            html,
            keep_style_tags=False,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
        ).transform()
    )
