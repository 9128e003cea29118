from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import date

from digest.render import DigestRenderer
from digest.settings import Settings
from tests.render.factories import make_entry, parse, part_text

EDITION = date(2026, 11, 25)


def _normalised(text: str) -> str:
    """Entities decoded, whitespace collapsed, tokens masked (they carry the time)."""
    text = re.sub(r"token=[A-Za-z0-9_.\-]+", "token=T", html.unescape(text))
    text = re.sub(r">\s+<", "><", text)
    return " ".join(text.split())


def test_premailer_runs_once_for_a_whole_batch(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    pool = [make_entry(rank) for rank in range(1, 9)]
    renderer.render(subscriber_id=0, email="first@example.com", entries=pool)
    for subscriber_id in range(1, 51):
        chosen = pool[subscriber_id % 4 :][:5]
        chosen = [
            replace(entry, why=f"reason {subscriber_id}" * (subscriber_id % 2)) for entry in chosen
        ]
        renderer.render(
            subscriber_id=subscriber_id, email=f"r{subscriber_id}@example.com", entries=chosen[::-1]
        )
    assert renderer.premailer_passes == 1


def test_new_papers_later_in_a_batch_cost_one_more_pass(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    renderer.render(subscriber_id=1, email="a@example.com", entries=[make_entry(1)])
    renderer.render(subscriber_id=2, email="b@example.com", entries=[make_entry(1), make_entry(2)])
    renderer.render(subscriber_id=3, email="c@example.com", entries=[make_entry(2), make_entry(1)])
    assert renderer.premailer_passes == 2


def test_fast_render_matches_premailer_on_the_whole_message(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    entries = [
        make_entry(1, why="You follow <Transformers> & “attention”", categories=["cs.LG"]),
        make_entry(2, title='Ünïcödé 注意力 <b>bold</b> "quoted"', why=""),
        make_entry(3, code_url=None, stars=None, why="Because you asked for more like #4"),
    ]
    renderer.render(subscriber_id=9, email="first@example.com", entries=entries[::-1])
    fast = parse(renderer.render(subscriber_id=42, email="o'neil@example.com", entries=entries))
    slow = parse(
        renderer.render_reference(subscriber_id=42, email="o'neil@example.com", entries=entries)
    )
    for subtype in ("plain", "html"):
        assert _normalised(part_text(fast, subtype)) == _normalised(part_text(slow, subtype))
    assert fast["Subject"] == slow["Subject"] and fast["To"] == slow["To"]


def test_each_subscriber_gets_their_own_papers_order_and_links(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    first = [
        make_entry(1, title="Alpha paper", why="alpha reason"),
        make_entry(2, title="Beta paper"),
    ]
    second = [make_entry(1, title="Beta paper"), make_entry(2, title="Gamma paper", why="gamma")]
    one = parse(renderer.render(subscriber_id=1, email="one@example.com", entries=first))
    two = parse(renderer.render(subscriber_id=2, email="two@example.com", entries=second))
    text_one, text_two = part_text(one, "plain"), part_text(two, "plain")
    assert "1. Alpha paper" in text_one and "2. Beta paper" in text_one
    assert "1. Beta paper" in text_two and "2. Gamma paper" in text_two
    assert "alpha reason" in text_one and "alpha reason" not in text_two
    assert "one@example.com" in text_one and "one@example.com" not in text_two
    assert one["List-Unsubscribe"] != two["List-Unsubscribe"]
    assert one["Subject"].endswith("Alpha paper") and two["Subject"].endswith("Beta paper")
    html_two = part_text(two, "html")
    assert "one@example.com" not in html_two and "alpha reason" not in html_two


def test_placeholders_never_leak_and_cannot_be_forged(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    forged = "ph_0123456789abcdef_unsubscribe_ and ph_x_email_"
    message = parse(
        renderer.render(
            subscriber_id=1,
            email="a@example.com",
            entries=[make_entry(1, title=forged, why=forged)],
        )
    )
    for subtype in ("plain", "html"):
        body = part_text(message, subtype)
        assert body.count(forged) >= 2
        assert not re.search(r"ph_[0-9a-f]{16}_", body.replace(forged, ""))
        assert "cut_" not in body


def test_html_is_compact_and_self_contained(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    message = renderer.render(
        subscriber_id=1, email="a@example.com", entries=[make_entry(rank) for rank in range(1, 11)]
    )
    raw = message.as_bytes()
    assert len(raw) < 102_000  # Gmail clips messages beyond about 102 kB
    page = part_text(parse(message), "html").lower()
    for needle in ("<script", "<link", "<img", "src=", "@import", "url("):
        assert needle not in page
