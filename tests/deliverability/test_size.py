"""The largest digest a subscriber can choose is never clipped by Gmail.

Gmail shows about the first 102 KB of an email's HTML and hides the rest behind "[Message
clipped]": the footer with the unsubscribe link and the postal address, which bulk-sender
rules require to be visible, would go with it.
"""

from __future__ import annotations

from digest.preferences import MAX_EDITION_SIZE
from tests.deliverability.links import html_urls
from tests.deliverability.mailings import POSTAL_ADDRESS, Caught

GMAIL_CLIPS_AT = 102_000  # bytes of HTML; Gmail's documented limit is "about 102 KB"


def test_the_largest_edition_stays_under_gmails_clipping_size(
    mailings: dict[str, Caught],
) -> None:
    sizes = {kind: len(c.html_bytes()) for kind, c in mailings.items()}
    largest = mailings[f"digest-{MAX_EDITION_SIZE}"]
    html = largest.html_bytes()
    assert len(html) < GMAIL_CLIPS_AT, (
        f"the {MAX_EDITION_SIZE}-paper digest's HTML is {len(html):,} bytes, over Gmail's "
        f"{GMAIL_CLIPS_AT:,} (all kinds: {sizes})"
    )
    footer = html.decode()
    assert POSTAL_ADDRESS in footer
    assert any("/unsubscribe?token=" in url for url in html_urls(footer))
