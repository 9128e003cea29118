"""Every page of the web app, reached the way a reader reaches it: from the links in the
emails `mailings.send_every_kind` sent, and by submitting the forms those pages show.

`visit_every_page` drives any httpx client rooted at the site (Starlette's TestClient over
the app, or a real client of a running server) and returns each page's HTML by name.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
from freezegun import freeze_time

from digest.settings import Settings
from digest.store.db import Database
from digest.store.subscribers import find_by_email
from digest.tokens import Purpose, make_token
from digest.web.admin_password import hash_password
from tests.deliverability.mailings import DAY, Caught

ADMIN_USER = "operator"
ADMIN_PASSWORD = "deliverability dashboard password"
LINK = re.compile(r"https?://[^\s<>\"')\]]+")


def site_settings(settings: Settings, redis_url: str) -> Settings:
    """The settings of the site: the operator dashboard on, and the subscribe form's
    counters in `redis_url` under a prefix of this run's own (they expire by themselves)."""
    return settings.model_copy(
        update={
            "admin_user": ADMIN_USER,
            "admin_password_hash": hash_password(ADMIN_PASSWORD).line(),
            "redis_url": redis_url,
            "task_queue": f"deliverability-{uuid.uuid4().hex[:12]}",
        }
    )


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    status: int
    html: str
    method: str  # how it was reached: GET a link, or POST a form


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (text, name, value)


class _Forms(HTMLParser):
    """The forms of a page with what a browser would send from each: hidden and typed
    values, checked boxes, selected options and textareas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._button: tuple[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if kind not in ("submit", "button", "image", "file"):
                form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = a.get("name"), None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                form.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), []
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._button, self._text = (a.get("name", ""), a.get("value", "")), []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "select" and self._select:
            if not self._select_chosen and self._select_first is not None:
                form.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            form.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None
        elif tag == "button" and self._button is not None:
            form.buttons.append((" ".join("".join(self._text).split()), *self._button))
            self._button = None


def submit(
    client: httpx.Client, page: httpx.Response, button: str, **changes: str
) -> httpx.Response:
    """Press the button labelled `button` on `page`, as a browser sends its form."""
    parser = _Forms()
    parser.feed(page.text)
    for form in parser.forms:
        for text, name, value in form.buttons:
            if text == button:
                data: dict[str, list[str]] = {}
                for key, value in form.fields:
                    if key not in changes:
                        data.setdefault(key, []).append(value)
                for key, value in changes.items():
                    data[key] = [value]
                if name:
                    data.setdefault(name, []).append(value)
                action = urljoin(str(page.url), form.action or str(page.url))
                origin = "{0.scheme}://{0.netloc}".format(urlsplit(str(client.base_url)))
                return client.post(
                    action, data=data, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}
                )
    raise AssertionError(f"no button {button!r} on {page.url}")


def links_of(caught: Caught) -> list[str]:
    """Every http(s) link of the text part, in order."""
    return LINK.findall(caught.part("plain"))


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _link(caught: Caught, path: str) -> str:
    for url in links_of(caught):
        if urlsplit(url).path == path:
            return _path(url)
    raise AssertionError(f"the {caught.kind} email has no link to {path}")


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str]] = []  # (href, text)
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def _feedback_link(caught: Caught) -> str:
    """The first paper's "More like this" link, however it is written."""
    parser = _Anchors()
    parser.feed(caught.part("html"))
    for href, text in parser.anchors:
        if text.lower().startswith("more like this"):
            return _path(href)
    raise AssertionError(f"the HTML of the {caught.kind} email has no 'More like this' link")


def _subscriber_id(db: Database, email: str) -> int:
    with db.session() as session:
        row = find_by_email(session, email)
        assert row is not None, email
        return row.id


def rate_path(settings: Settings, db: Database, email: str) -> str:
    """The page of one edition's papers with their feedback links, as older emails (and
    the text part, before it carried every feedback link) link to it."""
    token = make_token(settings.secret_key, Purpose.FEEDBACK, _subscriber_id(db, email), email)
    return f"/rate?token={token}&edition={DAY.isoformat()}"


def expired_confirm_path(settings: Settings, db: Database, email: str) -> str:
    """A confirmation link for `email` made longer ago than links stay valid."""
    subscriber_id = _subscriber_id(db, email)
    hours = settings.confirm_max_age_hours + 24
    with freeze_time(datetime.now(UTC) - timedelta(hours=hours)):
        token = make_token(settings.secret_key, Purpose.CONFIRM, subscriber_id, email)
    return f"/confirm?token={token}"


def visit_every_page(
    client: httpx.Client, mailings: dict[str, Caught], settings: Settings, db: Database
) -> dict[str, Page]:
    """Each page by name; `client` is rooted at the site, over the store (`db`) the mail was
    sent from.

    Changes the store as the readers' clicks do (a confirmation, an unsubscribe, …)."""
    pages: dict[str, Page] = {}

    def keep(name: str, response: httpx.Response, status: int = 200) -> httpx.Response:
        assert response.status_code == status, (
            f"the {name} page answered {response.status_code}, not {status}: {response.text[:300]}"
        )
        pages[name] = Page(
            name,
            _path(str(response.url)),
            response.status_code,
            response.text,
            response.request.method,
        )
        return response

    def get(
        name: str, path: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return keep(name, client.get(path, headers=headers), status)

    digest, other = mailings["digest-10"], mailings["digest-1"]
    landing = get("landing", "/")
    keep("check-inbox", submit(client, landing, "Subscribe", email="new.reader@example.net"))
    pending = mailings["confirm"].rcpt_tos[0]
    get("link-expired", expired_confirm_path(settings, db, pending), 400)
    confirm = get("confirm", _link(mailings["confirm"], "/confirm"))
    keep("confirmed", submit(client, confirm, "Confirm"))
    get("archive", "/archive")
    get("archive-day", f"/archive/{DAY.isoformat()}")
    get("archive-missing", "/archive/2020-01-01", 404)
    get("rate", rate_path(settings, db, digest.rcpt_tos[0]))
    feedback = get("feedback", _feedback_link(digest))
    keep("feedback-thanks", submit(client, feedback, "Yes, more like this"))
    preferences = get("preferences", _link(digest, "/preferences"))
    keep("preferences-preview", submit(client, preferences, "Preview with these settings"))
    keep(
        "preferences-invalid",
        submit(client, preferences, "Save preferences", edition_size="0"),
        422,
    )
    keep("preferences-saved", submit(client, preferences, "Save preferences"))
    unsubscribe = get("unsubscribe", _link(digest, "/unsubscribe"))
    keep("unsubscribe-weekly", submit(client, unsubscribe, "Weekly instead"))
    leaving = client.get(_link(other, "/unsubscribe"))
    keep("unsubscribed", submit(client, leaving, "Unsubscribe"))
    get("unsubscribe-already", _link(other, "/unsubscribe"))
    get("link-problem", "/preferences?token=not-a-real-token", 400)
    get("not-found", "/no/such/page", 404)
    keep(
        "form-expired",
        client.post(
            "/subscribe",
            data={"email": "x@example.net"},
            headers={"Origin": "https://evil.example"},
        ),
        403,
    )
    credentials = base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
    get("admin", "/admin", headers={"Authorization": f"Basic {credentials}"})
    return pages
