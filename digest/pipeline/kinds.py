"""Email kinds: one declaration carries every rule of a subscriber email that is not a digest.

A kind is a function decorated with `@email_kind(...)` (the kinds themselves live in
digest.pipeline.emails) plus its templates in templates/email/<kind>/. The decorator says:

- **who** may get it: `for_states`, the states the subscriber must be in when it is sent;
  `answers_request` marks the kinds the subscribe form's request becomes (the one whose
  states hold the address's state);
- **how often**: `every`, at most one per subscriber per interval. A `rated` kind (one a
  stranger can ask for by typing an address into the form) counts on the address's one
  shared clock, so alternating kinds cannot flood it; any other kind on its own sent rows;
- **whether it is on**: `enabled`, read from the email settings (a reminder is opt-in for
  the operator);
- **its data**: the function itself, given a `Recipient` with a session to read the store;
  it returns the template context, or None when there is nothing to send;
- **its audience**, for a kind beat sends on a schedule: a query of the subscribers to queue.

The store sees none of this: it gets plain values (a kind's name, whether a sent one is
rated) from digest.pipeline.notices, which applies these rules to each outbox row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from digest.settings import EmailSettings
from digest.store.models import SubscriberState


class UnknownKind(LookupError):
    """No email kind of that name is declared."""


class NeedsStore(RuntimeError):
    """The kind reads the store, and it was rendered without a session."""


@dataclass(frozen=True)
class Notice:
    """What one kind puts into its templates, and headers beyond the usual ones."""

    context: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    """What a kind's function gets: who the email is for, when, and the store to read."""

    settings: EmailSettings
    subscriber_id: int
    email: str
    now: datetime
    request_id: int | None = None  # the subscribe request the email answers, if any
    session: Session | None = None

    @property
    def store(self) -> Session:
        if self.session is None:
            raise NeedsStore("this email kind reads the store: render it with a session")
        return self.session


Build = Callable[[Recipient], Notice | None]
Audience = Callable[[Session, datetime], Sequence[int]]


def always(settings: EmailSettings) -> bool:
    return True


@dataclass(frozen=True)
class EmailKind:
    name: str
    build: Build
    for_states: frozenset[SubscriberState]
    every: timedelta | None = None
    rated: bool = False
    answers_request: bool = False
    enabled: Callable[[EmailSettings], bool] = always
    audience: Audience | None = None

    def why_not(
        self,
        state: SubscriberState,
        settings: EmailSettings,
        last_sent: datetime | None,
        now: datetime,
    ) -> str:
        """Why this kind must not go to a subscriber in `state` whose last one (of this kind,
        or on the shared clock for a rated kind) was accepted at `last_sent`; "" if it may."""
        if state not in self.for_states:
            return f"the subscriber is {state.value}"
        if not self.enabled(settings):
            return f"{self.name} emails are turned off"
        if self.every is not None and last_sent is not None and now - last_sent < self.every:
            return f"one was sent {_ago(now - last_sent)} ago"
        return ""


KINDS: dict[str, EmailKind] = {}


def email_kind(
    name: str,
    *,
    for_states: Collection[SubscriberState],
    every: timedelta | None = None,
    rated: bool = False,
    answers_request: bool = False,
    enabled: Callable[[EmailSettings], bool] = always,
    audience: Audience | None = None,
) -> Callable[[Build], Build]:
    """Declare the decorated function as the email kind `name`, with its rules."""

    def register(build: Build) -> Build:
        KINDS[name] = EmailKind(
            name, build, frozenset(for_states), every, rated, answers_request, enabled, audience
        )
        return build

    return register


def kind_named(name: str) -> EmailKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"no email kind {name!r}: choose one of {sorted(KINDS)}") from None


def answer_to_request(state: SubscriberState) -> EmailKind | None:
    """The kind a subscribe request becomes for an address in `state`, if any."""
    for kind in KINDS.values():
        if kind.answers_request and state in kind.for_states:
            return kind
    return None


def _ago(elapsed: timedelta) -> str:
    minutes = max(1, int(elapsed.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes < 48 * 60:
        return f"{minutes // 60} hours"
    return f"{minutes // (24 * 60)} days"
