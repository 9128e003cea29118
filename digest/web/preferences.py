"""The preferences page: follows and schedule, a preview, and the data rights (export, delete)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest import links
from digest.errors import InvalidToken
from digest.pipeline.mutes import mute_conflicts
from digest.pipeline.tastes import tastes_of
from digest.preferences import (
    MAX_EDITION_SIZE,
    InvalidPreference,
    Preferences,
    parse_authors,
    parse_muted,
    parse_muted_authors,
    parse_preferences,
    parse_topics,
)
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import (
    delete_subscriber_data,
    export_subscriber,
    preferences_of,
    subscriber_for_token,
    update_preferences,
)
from digest.tokens import Purpose, TokenSubject
from digest.web.pages import sentence, timezone_choices, with_token
from digest.web.preview import Preview, preview_cards
from digest.web.site import Site, form_text

log = logging.getLogger(__name__)

DELETE_CONFIRM_FIELD = "confirm_delete"


@dataclass(frozen=True)
class TasteNotice:
    """What an action on seed papers or on what was learned says in its section."""

    section: str  # "seeds" or "learned"
    message: str
    problems: tuple[str, ...] = ()
    error: bool = False
    pasted: str = ""  # what was pasted, shown again after a refusal
    skip_bad: bool = False


@dataclass(frozen=True)
class PreferencesForm:
    """The form's values as text, so what was typed is shown again next to an error."""

    topics: str
    categories: str
    authors: str
    frequency: str
    send_weekday: str
    timezone: str
    send_hour: str
    edition_size: str
    muted: str = ""
    muted_authors: str = ""

    @classmethod
    def of(cls, prefs: Preferences) -> PreferencesForm:
        return cls(
            topics=", ".join(prefs.topics),
            categories=", ".join(prefs.categories),
            authors=", ".join(prefs.authors),
            frequency=prefs.frequency.value,
            send_weekday=str(prefs.send_weekday),
            timezone=prefs.timezone,
            send_hour=str(prefs.send_hour),
            edition_size=str(prefs.edition_size),
            muted=", ".join(prefs.muted),
            muted_authors=", ".join(prefs.muted_authors),
        )

    @classmethod
    def read(cls, form: FormData) -> PreferencesForm:
        return cls(**{name: form_text(form, name) for name in cls.__dataclass_fields__})


def conflicts_in(form: PreferencesForm) -> list[str]:
    """What the page says about each follow a mute overrides (the mute wins), as typed."""
    try:
        return mute_conflicts(
            parse_topics(form.topics),
            parse_authors(form.authors),
            parse_muted(form.muted),
            parse_muted_authors(form.muted_authors),
        )
    except InvalidPreference:
        return []  # the field's own error says what to fix first


class PreferencesPages:
    """GET|POST /preferences, GET /preferences/export, POST /preferences/delete (by token)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.timezones = timezone_choices(site.settings.web.default_timezone)

    def routes(self) -> list[Route]:
        return [
            Route("/preferences", self.page, methods=["GET"]),
            Route("/preferences", self.save, methods=["POST"]),
            Route("/preferences/export", self.export, methods=["GET"]),
            Route("/preferences/delete", self.delete, methods=["POST"]),
        ]

    async def owner(self, request: Request) -> tuple[TokenSubject, Subscriber] | Response:
        """The subscriber the page's link names, or the page saying the link is broken."""
        try:
            subject = self.site.subject(request, Purpose.PREFERENCES)
            return subject, await self.site.in_thread(self._subscriber, subject)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)

    async def page(self, request: Request) -> Response:
        owner = await self.owner(request)
        if isinstance(owner, Response):
            return owner
        _, subscriber = owner
        prefs = preferences_of(subscriber)
        preview = await self.preview(subscriber.id, prefs)
        return await self.render(request, subscriber, PreferencesForm.of(prefs), preview=preview)

    async def save(self, request: Request) -> Response:
        form = await self.site.checked_form(request)
        owner = await self.owner(request)
        if isinstance(owner, Response):
            return owner
        subject, subscriber = owner
        typed = PreferencesForm.read(form)
        if not typed.send_weekday:
            # The page disables the weekday while "every day" is chosen: keep the stored one.
            typed = replace(typed, send_weekday=str(subscriber.send_weekday))
        prefs, problems = parse_preferences(asdict(typed))
        errors = {name: sentence(problem) for name, problem in problems.items()}
        if prefs is None:
            log.info("preferences of subscriber %s refused: %s", subscriber.id, sorted(errors))
            return await self.render(request, subscriber, typed, errors=errors, status=422)
        if form_text(form, "action") == "preview":
            preview = await self.preview(subscriber.id, prefs)
            return await self.render(request, subscriber, typed, preview=preview, previewing=True)
        try:
            subscriber = await self.site.in_thread(self._update, subject, prefs)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        log.info("preferences of subscriber %s saved", subscriber.id)
        saved = preferences_of(subscriber)
        preview = await self.preview(subscriber.id, saved)
        return await self.render(
            request, subscriber, PreferencesForm.of(saved), preview=preview, saved=True
        )

    async def export(self, request: Request) -> Response:
        try:
            subject = self.site.subject(request, Purpose.PREFERENCES)
            data = await self.site.in_thread(self._export, subject)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        log.info("data export downloaded")
        return Response(
            json.dumps(data, indent=2, ensure_ascii=False) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="digest-my-data.json"'},
        )

    async def delete(self, request: Request) -> Response:
        form = await self.site.checked_form(request)
        owner = await self.owner(request)
        if isinstance(owner, Response):
            return owner
        subject, subscriber = owner
        if form_text(form, DELETE_CONFIRM_FIELD) != "yes":
            prefs = preferences_of(subscriber)
            errors = {DELETE_CONFIRM_FIELD: "Tick the box to confirm that everything is deleted."}
            return await self.render(
                request, subscriber, PreferencesForm.of(prefs), errors=errors, status=422
            )
        try:
            await self.site.in_thread(self._delete, subject)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        log.info("subscriber %s deleted at their request", subscriber.id)
        return self.site.pages.message(
            request,
            200,
            "Your data is deleted",
            "We removed your address, preferences and history. We keep only a one-way hash of "
            "the address so that it is never mailed again by mistake.",
            (self.site.home, "Go to the home page"),
        )

    async def render(
        self,
        request: Request,
        subscriber: Subscriber,
        form: PreferencesForm,
        *,
        preview: Preview | None = None,
        errors: dict[str, str] | None = None,
        saved: bool = False,
        previewing: bool = False,
        status: int = 200,
        notice: TasteNotice | None = None,
    ) -> Response:
        """The page; `notice` is what a seed, learning or forget action says in its section."""
        token = request.query_params.get("token", "")
        settings = self.site.settings
        tastes = await self.site.in_thread(tastes_of, self.site.db, settings, subscriber.id)
        root = self.site.root
        return self.site.pages.render(
            request,
            "preferences.html",
            status,
            email=subscriber.email,
            receiving=subscriber.state in (SubscriberState.PENDING, SubscriberState.ACTIVE),
            form=form,
            conflicts=conflicts_in(form),
            errors=errors or {},
            saved=saved,
            previewing=previewing,
            preview=preview,
            timezones=self.timezones,
            max_edition_size=MAX_EDITION_SIZE,
            action=with_token(f"{self.site.root}/preferences", token),
            export_url=with_token(f"{self.site.root}/preferences/export", token),
            delete_action=with_token(f"{self.site.root}/preferences/delete", token),
            tastes=tastes,
            notice=notice,
            follows=preferences_of(subscriber),
            seeds_action=with_token(f"{root}/preferences/seeds", token) + "#seeds",
            seed_remove_action=with_token(f"{root}/preferences/seeds/remove", token) + "#seeds",
            learning_action=with_token(f"{root}/preferences/learning", token) + "#learned",
            forget_action=with_token(f"{root}/preferences/forget", token) + "#learned",
            seed_limit=settings.web.seed_papers_max,
            upload_limit=settings.web.seed_upload_max_bytes,
            trending_slots=settings.ranking.blend.trending_slots,
            community=settings.ranking.blend.community_weight > 0,
            unsubscribe_url=links.unsubscribe_url(settings, subscriber.id, subscriber.email),
            # The personal feed answers only while the subscription is active.
            feed_url=(
                links.personal_feed_url(settings, subscriber.id, subscriber.email)
                if subscriber.state is SubscriberState.ACTIVE
                else None
            ),
        )

    async def preview(self, subscriber_id: int, prefs: Preferences) -> Preview | None:
        return await self.site.in_thread(
            preview_cards, self.site.db, self.site.settings, subscriber_id, prefs
        )

    def _subscriber(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return subscriber_for_token(session, subject)

    def _update(self, subject: TokenSubject, prefs: Preferences) -> Subscriber:
        with self.site.db.session() as session:
            return update_preferences(session, subject, prefs)

    def _export(self, subject: TokenSubject) -> dict[str, object]:
        with self.site.db.session() as session:
            return export_subscriber(session, subject)

    def _delete(self, subject: TokenSubject) -> None:
        with self.site.db.session() as session:
            delete_subscriber_data(session, subject)
