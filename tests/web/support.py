"""Helpers shared by the web tests: store look-ups, tokens, editions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import func, select
from starlette.testclient import TestClient

from digest.pipeline.pool import build_pool
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Paper, SignalSnapshot, Subscriber, SubscriberState
from digest.store.subscribers import add_subscriber
from digest.tokens import Purpose, make_token
from tests.conftest import SmtpSink


def find_subscriber(db: Database, email: str) -> Subscriber | None:
    with db.session() as session:
        return session.scalar(select(Subscriber).where(Subscriber.email == email))


def subscriber(db: Database, email: str) -> Subscriber:
    found = find_subscriber(db, email)
    assert found is not None, f"no subscriber row for {email}"
    return found


def subscriber_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Subscriber)) or 0


def add(db: Database, email: str, state: SubscriberState) -> Subscriber:
    """A subscriber in `state`, created the way operators and the lifecycle would leave it."""
    with db.session() as session:
        row = add_subscriber(session, email, confirmed=state is not SubscriberState.PENDING)
        row.state = state
        return row


def set_fields(db: Database, subscriber_id: int, **values: object) -> None:
    with db.session() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


def token(settings: Settings, purpose: Purpose, row: Subscriber) -> str:
    return make_token(settings.secret_key, purpose, row.id, row.email)


def tampered(value: str) -> str:
    """The token with one payload character changed (the signature no longer matches)."""
    position = 3
    replacement = "A" if value[position] != "A" else "B"
    return value[:position] + replacement + value[position + 1 :]


def subscribe(client: TestClient, email: str, **fields: str) -> httpx.Response:
    response: httpx.Response = client.post("/subscribe", data={"email": email, **fields})
    return response


def without_nonce(html: str) -> str:
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


@dataclass(frozen=True)
class PaperSpec:
    arxiv_id: str
    title: str
    upvotes: int
    comments: int = 0
    stars: int | None = None
    url: str | None = None
    authors: tuple[str, ...] = ("Ada Lovelace",)


def add_edition(db: Database, day: date, now: datetime, specs: list[PaperSpec]) -> None:
    """Store the papers with one signal snapshot each and build `day`'s edition."""
    with db.session() as session:
        for spec in specs:
            paper = Paper(
                arxiv_id=spec.arxiv_id,
                title=spec.title,
                abstract="An abstract.",
                authors=list(spec.authors),
                url=spec.url or f"https://arxiv.org/abs/{spec.arxiv_id}",
                listed_on=day,
                published_at=now - timedelta(hours=6),
                source="hf",
            )
            paper.signals.append(
                SignalSnapshot(
                    observed_at=now - timedelta(hours=1),
                    source="hf",
                    upvotes=spec.upvotes,
                    comments=spec.comments,
                    stars=spec.stars,
                )
            )
            session.add(paper)
        session.flush()
        pool = build_pool(session, day, Settings().ranking, now)
        assert pool is not None


# What a browser sends with a form POST from one of our own pages.
BROWSER = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def browser_post(
    client: TestClient, page: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Open `page`, then submit its form to `action` the way a browser would."""
    token = csrf_from(client.get(page).text)
    response: httpx.Response = client.post(
        action, data={**(data or {}), "csrf_token": token}, headers=BROWSER
    )
    return response


def confirm(client: TestClient, token: str) -> httpx.Response:
    """Open the confirmation link, then press its Confirm button if the page has one."""
    link = f"/confirm?token={token}"
    page: httpx.Response = client.get(link)
    if ">Confirm</button>" not in page.text:
        return page
    response: httpx.Response = client.post(
        link, data={"csrf_token": csrf_from(page.text)}, headers=BROWSER
    )
    return response


def mailed_confirm_tokens(sink: SmtpSink, address: str) -> list[str]:
    """The token of each confirmation link mailed to `address`, oldest first."""
    tokens = []
    for message in sink.messages_to(address):
        body = message.get_body(preferencelist=("plain",))
        found = re.search(r"/confirm\?token=([\w.\-]+)", body.get_content() if body else "")
        if found:
            tokens.append(found.group(1))
    return tokens
