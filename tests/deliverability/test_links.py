"""Both parts of every email carry the same links, each once.

A reader whose client shows the plain-text part must reach everything the HTML offers, and
filters compare the two parts: rspamd scores URI_COUNT_ODD when the count of links differs
between the alternatives (a confirmation with its link twice in HTML, once in text).
"""

from __future__ import annotations

from tests.deliverability.links import html_urls, text_urls
from tests.deliverability.mailings import Caught


def test_the_text_part_has_the_links_of_the_html_part_each_once(
    mailings: dict[str, Caught],
) -> None:
    problems: list[str] = []
    for kind, caught in mailings.items():
        html, text = html_urls(caught.part("html")), text_urls(caught.part("plain"))
        only_html = sorted(set(html) - set(text))
        only_text = sorted(set(text) - set(html))
        repeated = sorted(
            f"{url} ({html[url]}x in HTML, {text[url]}x in text)"
            for url in set(html) | set(text)
            if html[url] > 1 or text[url] > 1
        )
        for what, urls in (
            ("only in HTML", only_html),
            ("only in text", only_text),
            ("more than once", repeated),
        ):
            if urls:
                shown = "; ".join(urls[:3]) + (f"; … {len(urls) - 3} more" if len(urls) > 3 else "")
                problems.append(f"  {kind}: {len(urls)} {what}: {shown}")
    assert not problems, "links differ between the parts:\n" + "\n".join(problems)
