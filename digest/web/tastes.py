"""The preferences page's actions on what shapes a digest: add seed papers (pasted or a
file), remove them, stop or restart learning from ratings, forget the ratings.

Each is a POST with the page's CSRF field, by the preferences token, and answers with the
preferences page, its section saying what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import InvalidToken
from digest.pipeline.seeds import SeedReport, seed_from_submission
from digest.pipeline.tastes import forget_ratings, remove_seed_papers, set_learning
from digest.store.models import Subscriber
from digest.store.subscribers import preferences_of
from digest.text import whole_number
from digest.tokens import TokenSubject
from digest.web.preferences import PreferencesForm, PreferencesPages, TasteNotice
from digest.web.site import form_text

log = logging.getLogger(__name__)

SEEDS, LEARNED = "seeds", "learned"
FORGET_CONFIRM_FIELD = "confirm_forget"


class TastePages:
    """POST /preferences/seeds, /preferences/seeds/remove, /preferences/learning and
    /preferences/forget (by the preferences token)."""

    def __init__(self, preferences: PreferencesPages) -> None:
        self.preferences = preferences
        self.site = preferences.site

    def routes(self) -> list[Route]:
        return [
            Route("/preferences/seeds", self.add_seeds, methods=["POST"]),
            Route("/preferences/seeds/remove", self.remove_seed, methods=["POST"]),
            Route("/preferences/learning", self.learning, methods=["POST"]),
            Route("/preferences/forget", self.forget, methods=["POST"]),
        ]

    async def add_seeds(self, request: Request) -> Response:
        limit = self.site.settings.web.seed_upload_max_bytes
        too_large = TasteNotice(
            SEEDS, f"The file is larger than {_size(limit)}: nothing was added.", error=True
        )
        try:
            form = await self.site.upload_form(request, limit)
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            return await self._answer(request, too_large, status=413)
        pasted = form_text(form, "papers")
        skip_bad = form_text(form, "skip_bad") == "yes"
        upload = form.get("library")
        data, filename = b"", None
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(limit + 1)
            filename = upload.filename
            if len(data) > limit:
                return await self._answer(request, too_large, status=413)

        async def act(subject: TokenSubject, subscriber: Subscriber) -> TasteNotice:
            report = await self.site.in_thread(
                self._add, subscriber.id, pasted, data or None, filename, skip_bad
            )
            log.info(
                "seed papers of subscriber %s: %d added, %d refused",
                subscriber.id,
                report.added,
                len(report.problems),
            )
            return _seed_notice(report, pasted, skip_bad)

        return await self._act(request, act)

    async def remove_seed(self, request: Request) -> Response:
        form = await self.site.checked_form(request)
        raw = form_text(form, "seed")

        async def act(subject: TokenSubject, subscriber: Subscriber) -> TasteNotice:
            number = whole_number(raw)
            ids = None if raw == "all" else ([number] if number is not None else [])
            removed = await self.site.in_thread(remove_seed_papers, self.site.db, subject, ids)
            if not removed:
                return TasteNotice(SEEDS, "That paper was not in your list.", error=True)
            return TasteNotice(
                SEEDS, "Removed 1 paper." if removed == 1 else f"Removed {removed} papers."
            )

        return await self._act(request, act)

    async def learning(self, request: Request) -> Response:
        form = await self.site.checked_form(request)
        wanted = form_text(form, "learn")

        async def act(subject: TokenSubject, subscriber: Subscriber) -> TasteNotice:
            if wanted not in ("on", "off"):
                return TasteNotice(LEARNED, "Choose to learn from your ratings or not.", error=True)
            await self.site.in_thread(set_learning, self.site.db, subject, wanted == "on")
            log.info("subscriber %s: learning from ratings %s", subscriber.id, wanted)
            if wanted == "on":
                return TasteNotice(LEARNED, "Your ratings shape your digest again.")
            return TasteNotice(
                LEARNED,
                "Your digest no longer learns from your ratings. They are kept (listed below) "
                "until you forget them; your follows and your own papers still count.",
            )

        return await self._act(request, act)

    async def forget(self, request: Request) -> Response:
        form = await self.site.checked_form(request)
        confirmed = form_text(form, FORGET_CONFIRM_FIELD) == "yes"

        async def act(subject: TokenSubject, subscriber: Subscriber) -> TasteNotice:
            if not confirmed:
                return TasteNotice(
                    LEARNED, "Tick the box to confirm that your ratings are forgotten.", error=True
                )
            count = await self.site.in_thread(forget_ratings, self.site.db, subject)
            log.info("subscriber %s forgot %d ratings", subscriber.id, count)
            return TasteNotice(
                LEARNED,
                f"Forgot your {count} {'rating' if count == 1 else 'ratings'}."
                if count
                else "There were no ratings to forget.",
            )

        return await self._act(request, act)

    async def _act(
        self,
        request: Request,
        act: Callable[[TokenSubject, Subscriber], Awaitable[TasteNotice]],
    ) -> Response:
        owner = await self.preferences.owner(request)
        if isinstance(owner, Response):
            return owner
        subject, subscriber = owner
        try:
            notice = await act(subject, subscriber)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        return await self._page(request, subscriber, notice, 422 if notice.error else 200)

    async def _answer(self, request: Request, notice: TasteNotice, status: int) -> Response:
        owner = await self.preferences.owner(request)
        if isinstance(owner, Response):
            return owner
        return await self._page(request, owner[1], notice, status)

    async def _page(
        self, request: Request, subscriber: Subscriber, notice: TasteNotice, status: int
    ) -> Response:
        prefs = preferences_of(subscriber)
        preview = await self.preferences.preview(subscriber.id, prefs)
        return await self.preferences.render(
            request,
            subscriber,
            PreferencesForm.of(prefs),
            preview=preview,
            notice=notice,
            status=status,
        )

    def _add(
        self,
        subscriber_id: int,
        pasted: str,
        upload: bytes | None,
        filename: str | None,
        skip_bad: bool,
    ) -> SeedReport:
        return seed_from_submission(
            self.site.db,
            self.site.settings,
            [subscriber_id],
            pasted,
            upload,
            filename,
            skip_bad=skip_bad,
            interactive=True,
        )


def _seed_notice(report: SeedReport, pasted: str, skip_bad: bool) -> TasteNotice:
    problems = tuple(_sentence(problem) for problem in report.problems)
    if not report.stored:
        message = _sentence(report.refused or "nothing was added")
        if report.problems:
            message += " Correct or remove the entries below, or tick “skip the others”."
        return TasteNotice(SEEDS, message, problems, True, pasted, skip_bad)
    added = f"Added {report.added} {'paper' if report.added == 1 else 'papers'}"
    if report.already:
        added += f"; {report.already} you had already"
    if problems:
        added += f"; skipped {len(problems)} that cannot be used"
    return TasteNotice(SEEDS, added + ".", problems)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def _size(limit: int) -> str:
    return f"{limit / 1_048_576:.3g} MB" if limit >= 1_048_576 else f"{limit // 1024} KB"
