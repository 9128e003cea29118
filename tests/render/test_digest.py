from __future__ import annotations

import html
import re
import smtplib
from datetime import date
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from digest import links
from digest.papers import EditionEntry
from digest.render import render_digest
from digest.settings import Settings
from digest.tokens import Purpose, email_fingerprint, read_short_token, read_token
from tests.conftest import SmtpSink
from tests.render.factories import make_entry, parse, part_text, render_confirmation

EDITION = date(2026, 11, 25)
READER = "reader@example.com"


def _render(
    settings: Settings,
    entries: list[EditionEntry],
    *,
    sample: bool = False,
    subscriber_id: int = 42,
) -> EmailMessage:
    message = render_digest(
        settings.email,
        subscriber_id=subscriber_id,
        email=READER,
        edition_date=EDITION,
        entries=entries,
        sample=sample,
    )
    return parse(message)


def _parts(message: EmailMessage) -> tuple[str, str]:
    return part_text(message, "plain"), html.unescape(part_text(message, "html"))


def test_digest_carries_every_contract_header(settings: Settings) -> None:
    message = _render(settings, [make_entry(1), make_entry(2)])
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    for name in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ):
        assert message[name], name
    assert message["To"] == READER
    assert message["List-Id"] == settings.list_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"]
    assert re.fullmatch(r"<https://[^<>\s]+/unsubscribe\?token=[^<>\s]+>", unsubscribe)


def test_the_header_unsubscribe_link_is_visible_in_both_parts(settings: Settings) -> None:
    message = _render(settings, [make_entry(1)])
    url = message["List-Unsubscribe"].strip("<>")
    token = parse_qs(urlsplit(url).query)["token"][0]
    subject = read_token(settings.secret_key, Purpose.UNSUBSCRIBE, token)
    assert subject.subscriber_id == 42 and subject.matches(READER)
    assert subject.email_fingerprint == email_fingerprint(settings.secret_key, READER)
    text, page = _parts(message)
    assert f"Unsubscribe:\n{url}\n" in text
    assert f'<a href="{url}"' in page and ">Unsubscribe</a>" in page


def test_subject_names_the_date_and_the_top_paper(settings: Settings) -> None:
    message = _render(settings, [make_entry(2), make_entry(1, title="The Top Paper")])
    assert message["Subject"] == "Trending Papers, Wed 25 Nov: The Top Paper"


def test_papers_appear_in_rank_order_in_both_parts(settings: Settings) -> None:
    entries = [make_entry(rank, title=f"Title number {rank} here") for rank in (3, 1, 5, 2, 4)]
    text, page = _parts(_render(settings, entries))
    for body in (text, page):
        positions = [body.index(f"Title number {rank} here") for rank in range(1, 6)]
        assert positions == sorted(positions)
    assert "\n1. Title number 1 here\n" in text and "\n5. Title number 5 here\n" in text


def test_each_paper_shows_its_details(settings: Settings) -> None:
    entry = make_entry(1, abstract="word " * 200)
    text, page = _parts(_render(settings, [entry]))
    for body in (text, page):
        assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in body
        assert "▲ 212 upvotes, 14 comments, ★ 1.2k on GitHub" in body
        assert "word word…" in body
        assert "Edsger" not in body
    assert f'<a href="{entry.url}"' in page
    assert f'<a href="{entry.pdf_url}"' in page and f'<a href="{entry.code_url}"' in page
    assert f'<a href="{entry.project_url}"' in page
    for url in (entry.url, entry.pdf_url, entry.code_url, entry.project_url):
        assert re.search(rf"^ *(\w+: )?{re.escape(str(url))}$", text, re.MULTILINE), url


def test_unknown_figures_and_links_are_left_out(settings: Settings) -> None:
    entry = make_entry(1, upvotes=0, comments=0, stars=None, code_url=None, project_url=None)
    text, page = _parts(_render(settings, [entry]))
    for body in (text, page):
        assert "upvote" not in body and "GitHub" not in body
        assert "Code" not in body and "Project" not in body
        assert "PDF" in body


def test_footer_says_why_and_how_to_leave(settings: Settings) -> None:
    text, page = _parts(_render(settings, [make_entry(1)]))
    preferences = f"{settings.base_url}/preferences?token="
    for body in (text, page):
        # True of an operator-added address too: it says nothing of subscribing or confirming.
        assert "is subscribed to Trending Papers." in " ".join(body.split())
        assert "You receive this daily digest because" in body
        assert READER in body
        assert "confirmed" not in body
        assert preferences in body
        assert links.archive_url(settings, EDITION) in body
        assert "ops@example.org" in body


def test_no_contact_line_without_a_contact(settings: Settings) -> None:
    quiet = settings.model_copy(update={"contact": None})
    text, page = _parts(_render(quiet, [make_entry(1)]))
    assert "Questions" not in text and "Questions" not in page


def test_sample_editions_say_so(settings: Settings) -> None:
    text, page = _parts(_render(settings, [make_entry(1)], sample=True))
    assert "built-in sample" in text and "built-in sample" in page
    text, page = _parts(_render(settings, [make_entry(1)]))
    assert "sample" not in text and "sample" not in page


def test_html_is_self_contained_with_one_stylesheet(settings: Settings) -> None:
    page = part_text(_render(settings, [make_entry(1), make_entry(2)]), "html")
    lowered = page.lower()
    assert "<link" not in lowered and "<script" not in lowered and "<img" not in lowered
    assert "src=" not in lowered
    # One <style> block (another, for Outlook's font, sits in an <!--[if mso]> comment).
    outside_comments = re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL)
    [sheet] = re.findall(r"<style>(.*?)</style>", outside_comments, re.DOTALL)
    assert "max-width:640px" in sheet and ".paper-title{" in sheet
    assert "@media (prefers-color-scheme:dark)" in sheet and "!important" in sheet
    # Rules are not repeated on every paper; only the wrapper's font is inlined.
    assert '<td class="paper">' in page and page.count("style=") == 1
    assert re.search(r"<table [^>]*class=\"wrapper\"[^>]*style=.font-family:", page)


def test_hostile_titles_are_escaped_and_never_become_headers(settings: Settings) -> None:
    hostile = "Evil <script>alert(1)</script> \"quoted\" 'single'\r\nBcc: x@y " + "A" * 10_000
    message = _render(settings, [make_entry(1, title=hostile, authors=["<b>Mallory</b>"])])
    assert message["Bcc"] is None
    subject = message["Subject"]
    assert "\r" not in subject and "\n" not in subject and len(subject) <= 201
    page = part_text(message, "html")
    assert "<script" not in page.lower() and "<b>Mallory" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in page
    text = part_text(message, "plain")
    assert "1. Evil <script>alert(1)</script> \"quoted\" 'single' Bcc: x@y" in text
    assert not re.search(r"^Bcc:", text, re.MULTILINE)
    assert len(text) < 5000


@pytest.mark.parametrize(
    "bad_url", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "java\tscript:x"]
)
def test_only_web_urls_become_links(settings: Settings, bad_url: str) -> None:
    entry = make_entry(1, url=bad_url, pdf_url=bad_url, code_url=bad_url, project_url=bad_url)
    message = _render(settings, [entry])
    text, page = _parts(message)
    assert "script:" not in page.lower() and "data:" not in page.lower()
    assert "script:" not in text.lower() and "data:" not in text.lower()
    assert entry.title in page and entry.title in text  # shown, just not linked


def test_non_ascii_survives_a_round_trip(settings: Settings) -> None:
    title = "Über Ünïcödé 注意力: naïve attention"
    entry = make_entry(1, title=title, authors=["Jürgen Schmidhuber", "李飞飞"])
    message = _render(settings, [entry])
    assert message["Subject"].endswith(title)
    text, page = _parts(message)
    for body in (text, page):
        assert title in body and "Jürgen Schmidhuber, 李飞飞" in body


def test_message_id_is_stable_per_subscriber_and_edition(settings: Settings) -> None:
    first = _render(settings, [make_entry(1)])["Message-ID"]
    assert first == _render(settings, [make_entry(1)])["Message-ID"]
    assert first != _render(settings, [make_entry(1)], subscriber_id=43)["Message-ID"]


def test_an_empty_edition_still_renders(settings: Settings) -> None:
    message = _render(settings, [])
    assert message["Subject"] == "Trending Papers, Wed 25 Nov"
    text, page = _parts(message)
    assert "No papers are trending today" in text and "No papers are trending today" in page


def test_confirmation_has_one_clear_link(settings: Settings) -> None:
    message = parse(render_confirmation(settings.email, subscriber_id=7, email=READER))
    [url] = re.findall(r"https://\S+/confirm\?token=\S+", part_text(message, "plain"))
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert read_token(settings.secret_key, Purpose.CONFIRM, token).matches(READER)
    assert message["Subject"] == "Confirm your subscription to Trending Papers"
    assert message["To"] == READER and message["Message-ID"].endswith("@example.org>")
    assert message["List-Unsubscribe"] is None
    text, page = _parts(message)
    assert f"\n{url}\n" in text
    # The button is the one link to it: a second would upset the filters' URL counts.
    assert page.count(url) == 1 and f'href="{url}"' in page
    for body in (text, page):
        assert "expires in 48 hours" in body
        assert "ignore this email" in body


def test_a_rendered_digest_goes_through_a_real_smtp_server(
    settings: Settings, smtp_sink: SmtpSink
) -> None:
    title = "Über attention 注意力 <b>bold</b>"
    entries = [make_entry(1, title=title)]
    message = render_digest(
        settings.email, subscriber_id=42, email=READER, edition_date=EDITION, entries=entries
    )
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.send_message(message)
    [received] = smtp_sink.messages_to(READER)
    assert received["Subject"] == f"Trending Papers, Wed 25 Nov: {title}"
    assert received["Message-ID"] == message["Message-ID"]
    assert received["List-Unsubscribe"] == message["List-Unsubscribe"]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Bcc"] is None
    reparsed = parse(received)
    text, page = _parts(reparsed)
    assert title in text and title in page


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_why_it_is_here_appears_only_when_given(settings: Settings) -> None:
    entries = [
        make_entry(1, why="You follow cs.LG <and> “friends”"),
        make_entry(2, why="   "),
    ]
    message = _render(settings, entries)
    text, page = _parts(message)
    for body in (text, page):
        assert body.count("Why it's here:") == 1
        assert "You follow cs.LG <and> “friends”" in body
    assert "&lt;and&gt;" in part_text(message, "html")


def test_each_paper_has_feedback_links_for_this_reader(settings: Settings) -> None:
    entries = [make_entry(1), make_entry(2, arxiv_id="hep-th/9901001")]
    message = _render(settings, entries)
    text, page = _parts(message)
    urls = re.findall(r'href="(https://[^"]+/rate/[^"]+)"', page)
    shape = re.compile(r"https://digest\.example\.org/rate/([^/]+)/(more|less)/(.+)")
    assert [shape.fullmatch(u).groups()[1:] for u in urls] == [  # type: ignore[union-attr]
        ("more", "2411.10001"),
        ("less", "2411.10001"),
        ("more", "hep-th/9901001"),
        ("less", "hep-th/9901001"),
    ]
    for url in urls:
        token = shape.fullmatch(url).group(1)  # type: ignore[union-attr]
        subject = read_short_token(settings.secret_key, Purpose.FEEDBACK, token)
        assert subject.subscriber_id == 42 and subject.matches(READER)
        assert not subject.matches("someone.else@example.com")
        # The text part carries the same links, each on its own line.
        assert text.count(f"{url}\n") == 1
    assert page.count(">More like this</a>") == 2 and page.count(">Less like this</a>") == 2
    assert "/rate?" not in text + page  # the edition's one rating link, before these
    assert urls[3] == links.SubscriberLinks.make(settings, 42, READER).feedback(
        "hep-th/9901001", False
    )
    assert len(urls[0]) < 70  # the /feedback?token=… form took 130 characters


def test_footer_carries_the_postal_address(settings: Settings) -> None:
    postal = settings.model_copy(update={"postal_address": "Example Labs, 1 Rue X, Paris"})
    text, page = _parts(_render(postal, [make_entry(1)]))
    for body in (text, page):
        assert "Trending Papers, Example Labs, 1 Rue X, Paris" in body
    text, page = _parts(_render(settings, [make_entry(1)]))
    assert "Example Labs" not in text + page


def test_list_unsubscribe_adds_mailto_when_a_mailbox_is_set(settings: Settings) -> None:
    mailbox = settings.model_copy(update={"unsubscribe_mailbox": "leave@example.org"})
    message = _render(mailbox, [make_entry(1)])
    https, mailto = (part.strip() for part in message["List-Unsubscribe"].split(","))
    token = _query(https.strip("<>"))["token"]
    assert mailto == f"<mailto:leave@example.org?subject=unsubscribe%20{token}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_raw_headers_are_7bit_folded_and_never_encoded_words_for_urls(
    settings: Settings,
) -> None:
    mailbox = settings.model_copy(update={"unsubscribe_mailbox": "leave@example.org"})
    title = 'Über <script> "q" 注意力\r\nBcc: x@y ' + "Z" * 10_000
    message = render_digest(
        mailbox.email,
        subscriber_id=42,
        email=READER,
        edition_date=EDITION,
        entries=[make_entry(1, title=title)],
    )
    raw = message.as_bytes()
    assert max(raw) < 128
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert all(len(line) <= 998 for line in head.split("\r\n"))
    names = [line.split(":")[0] for line in head.split("\r\n") if not line.startswith(" ")]
    assert names.count("Subject") == 1 and "Bcc" not in names
    unsubscribe = re.search(r"^List-Unsubscribe: (.*?)\r\n(?! )", head, re.M | re.S)
    assert unsubscribe is not None and "=?" not in unsubscribe.group(1)
    assert "=?utf-8?" in head  # the subject's non-ASCII is RFC 2047 encoded
    assert parse(message)["Subject"].startswith("Trending Papers, Wed 25 Nov: Über <script>")


def test_weekly_edition_says_so(settings: Settings) -> None:
    message = parse(
        render_digest(
            settings.email,
            subscriber_id=42,
            email=READER,
            edition_date=EDITION,
            entries=[make_entry(1, title="Top")],
            weekly=True,
        )
    )
    assert message["Subject"] == "Trending Papers, week of 19\u201325 Nov: Top"
    text, page = _parts(message)
    for body in (text, page):
        assert "Week of 19\u201325 November 2026" in body
        assert "This week's 1 trending research paper" in body
        assert "You receive this weekly digest" in body


def test_unparsed_message_reads_like_a_parsed_one(settings: Settings) -> None:
    # `digest preview` and delivery use the returned object without a round trip.
    message = render_digest(
        settings.email,
        subscriber_id=42,
        email=READER,
        edition_date=EDITION,
        entries=[make_entry(1)],
    )
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None and "Paper ranked 1" in html_part.get_content()
    assert message["Message-ID"] == parse(message)["Message-ID"]
    assert message.as_bytes() == message.as_bytes()  # stable bytes, as DKIM needs


def test_confirmation_carries_the_postal_address(settings: Settings) -> None:
    postal = settings.model_copy(update={"postal_address": "Example Labs, Paris"})
    text, page = _parts(parse(render_confirmation(postal.email, subscriber_id=7, email=READER)))
    assert "Example Labs, Paris" in text and "Example Labs, Paris" in page
