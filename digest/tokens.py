"""Signed tokens carried in links: confirm (expires), unsubscribe and preferences (do not)."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digest.errors import ExpiredToken, InvalidToken


class Purpose(enum.StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    FEEDBACK = "feedback"
    FEED = "feed"  # the personal Atom feed


@dataclass(frozen=True)
class TokenSubject:
    """Who a token is for: the subscriber id and a fingerprint of their address.

    The address itself is not in the token (signed is not encrypted), so a forwarded or
    logged link does not disclose it; the fingerprint makes a link die with its address.
    It is keyed with the secret, so a token does not let anyone test a guessed address.
    """

    subscriber_id: int
    email_fingerprint: str
    secret_key: str = field(repr=False, default="")
    purpose: Purpose = Purpose.CONFIRM
    # Confirmation links only: the subscribe request (its outbox row) the link was sent
    # for, whose topics and timezone confirming applies; None for a link that names none.
    request_id: int | None = None

    def matches(self, email: str) -> bool:
        if hmac.compare_digest(self.email_fingerprint, email_fingerprint(self.secret_key, email)):
            return True
        # Links already in inboxes were made with the unkeyed fingerprint; leaving stays one
        # click for them. Every other purpose needs a link made since.
        return self.purpose is Purpose.UNSUBSCRIBE and hmac.compare_digest(
            self.email_fingerprint, _unkeyed_fingerprint(email)
        )


def email_fingerprint(secret_key: str, email: str) -> str:
    """A short HMAC of the address under the secret (domain-separated from other uses)."""
    return token_signer(secret_key).fingerprint(email)


def _unkeyed_fingerprint(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:16]


def _serializer(secret_key: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"digest.{purpose.value}")


def make_token(
    secret_key: str,
    purpose: Purpose,
    subscriber_id: int,
    email: str,
    *,
    request_id: int | None = None,
) -> str:
    """A URL-safe token binding the subscriber id and address to one purpose (and, for a
    confirmation, to the subscribe request it answers)."""
    if request_id is None:
        return token_signer(secret_key).token(purpose, subscriber_id, email)
    if purpose is not Purpose.CONFIRM:
        raise ValueError("only a confirmation link names a subscribe request")
    subject = [subscriber_id, email_fingerprint(secret_key, email), request_id]
    return _serializer(secret_key, purpose).dumps(subject)


class TokenSigner:
    """Makes the tokens `read_token` reads, for one secret, with every key derived once.

    The bytes are exactly those of itsdangerous's URLSafeTimedSerializer (tested): a digest
    carries three signed links, and deriving the keys, building a signer and encoding JSON
    on each of them cost more than rendering the rest of the message.
    """

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self._address_mac = hmac.new(f"digest.address:{secret_key}".encode(), None, "sha256")
        secret = secret_key.encode("utf-8")
        # itsdangerous's defaults: HMAC-SHA1 under sha1(salt + b"signer" + secret).
        self._macs = {
            purpose: hmac.new(
                hashlib.sha1(f"digest.{purpose.value}".encode() + b"signer" + secret).digest(),
                None,
                hashlib.sha1,
            )
            for purpose in Purpose
        }

        self._short_mac = hmac.new(f"digest.short-link:{secret_key}".encode(), None, "sha256")

    def fingerprint(self, email: str) -> str:
        mac = self._address_mac.copy()
        mac.update(email.encode("utf-8"))
        return mac.hexdigest()[:16]

    def token(self, purpose: Purpose, subscriber_id: int, email: str) -> str:
        return self.tokens((purpose,), subscriber_id, email)[0]

    def tokens(self, purposes: Sequence[Purpose], subscriber_id: int, email: str) -> list[str]:
        """One token per purpose for the same subscriber, made together (they differ only
        in their signature)."""
        payload = f'[{subscriber_id},"{self.fingerprint(email)}"]'.encode()
        if type(subscriber_id) is not int or len(zlib.compress(payload)) < len(payload) - 1:
            # What itsdangerous would write otherwise (it compresses where that is shorter).
            subject = [subscriber_id, self.fingerprint(email)]
            return [_serializer(self.secret_key, p).dumps(subject) for p in purposes]
        timestamp = int(time.time()).to_bytes(8, "big").lstrip(b"\0")
        value = _b64(payload) + b"." + _b64(timestamp)
        made = []
        for purpose in purposes:
            mac = self._macs[purpose].copy()
            mac.update(value)
            made.append((value + b"." + _b64(mac.digest())).decode("ascii"))
        return made

    def short_token(self, purpose: Purpose, subscriber_id: int, email: str) -> str:
        """`42.3q2-7wAbc_Zx`: the subscriber id and a tag of purpose, id and address (see
        read_short_token)."""
        return f"{subscriber_id}.{self.short_tag(purpose, subscriber_id, email)}"

    def short_tag(self, purpose: Purpose, subscriber_id: int, email: str) -> str:
        mac = self._short_mac.copy()
        mac.update(f"{purpose.value}:{subscriber_id}:{email}".encode())
        return _b64(mac.digest()[:SHORT_TAG_BYTES]).decode("ascii")


# --- short tokens, for links an email repeats ------------------------------------------------

SHORT_TAG_BYTES = 9  # 72 bits of HMAC-SHA256: 12 base64url characters
_SHORT_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{12})")


@dataclass(frozen=True)
class ShortTokenSubject(TokenSubject):
    """The subscriber a short token names. Its tag is checked against their address by
    `matches`, the call every use of a token makes once the subscriber is loaded."""

    tag: str = ""

    def matches(self, email: str) -> bool:
        expected = token_signer(self.secret_key).short_tag(self.purpose, self.subscriber_id, email)
        return hmac.compare_digest(self.tag, expected)


def make_short_token(secret_key: str, purpose: Purpose, subscriber_id: int, email: str) -> str:
    """A token of about 17 characters for links an email repeats (each paper's feedback
    links): an itsdangerous token takes 70, twice per paper. It does not expire."""
    return token_signer(secret_key).short_token(purpose, subscriber_id, email)


def read_short_token(secret_key: str, purpose: Purpose, token: str) -> TokenSubject:
    """The subscriber a short token names, or InvalidToken if it is not shaped like one;
    whether it was made for that subscriber's address is `matches`'s answer."""
    found = _SHORT_TOKEN.fullmatch(token)
    if found is None:
        raise InvalidToken("the link is incomplete or malformed")
    subscriber_id, tag = found.groups()
    return ShortTokenSubject(int(subscriber_id), "", secret_key, purpose, tag=tag)


@lru_cache(maxsize=8)
def token_signer(secret_key: str) -> TokenSigner:
    return TokenSigner(secret_key)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def read_token(
    secret_key: str, purpose: Purpose, token: str, max_age_seconds: int | None = None
) -> TokenSubject:
    """Verify a token; raise ExpiredToken or InvalidToken with a reason a person can read."""
    if not token or len(token) > 1000:
        raise InvalidToken("the link is incomplete or malformed")
    try:
        payload = _serializer(secret_key, purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise ExpiredToken("the link has expired") from None
    except BadSignature:
        raise InvalidToken("the link is not valid (it may have been cut or altered)") from None
    match payload:
        case [int(subscriber_id), str(fingerprint)]:
            return TokenSubject(subscriber_id, fingerprint, secret_key, purpose)
        case [int(subscriber_id), str(fingerprint), int(request_id)] if purpose is Purpose.CONFIRM:
            return TokenSubject(subscriber_id, fingerprint, secret_key, purpose, request_id)
    raise InvalidToken("the link is not valid")


# --- signed return paths (VERP) -------------------------------------------------------------

_VERP_TAG_LENGTH = 12


def _verp_tag(secret_key: str, subscriber_id: int) -> str:
    key = f"digest.verp:{secret_key}".encode()
    digest = hmac.new(key, str(subscriber_id).encode(), hashlib.sha256).hexdigest()
    return digest[:_VERP_TAG_LENGTH]


def verp_return_path(secret_key: str, return_path: str, subscriber_id: int) -> str:
    """`bounces@example.org` made `bounces+s42.<tag>@example.org` for subscriber 42."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+s{subscriber_id}.{_verp_tag(secret_key, subscriber_id)}@{domain}"


def verp_subscriber_id(secret_key: str, return_path: str, address: str) -> int | None:
    """The subscriber a signed return path was made for, or None if it is not one of ours."""
    local, _, domain = return_path.rpartition("@")
    got_local, at, got_domain = address.strip().strip("<>").rpartition("@")
    prefix = f"{local}+s".lower()
    if not at or got_domain.lower() != domain.lower() or not got_local.lower().startswith(prefix):
        return None
    number, dot, tag = got_local[len(prefix) :].partition(".")
    if not dot or not number.isascii() or not number.isdigit() or len(number) > 18:
        return None
    subscriber_id = int(number)
    if not hmac.compare_digest(tag.lower().encode(), _verp_tag(secret_key, subscriber_id).encode()):
        return None
    return subscriber_id


# --- signed Message-IDs ---------------------------------------------------------------------

TAG_LENGTH = 16  # hex characters of a truncated HMAC-SHA256: 64 bits


def mail_tag(secret_key: str, payload: str) -> str:
    """The short HMAC that signs a Message-ID (`payload` names its kind)."""
    digest = hmac.new(secret_key.encode("utf-8"), payload.encode(), hashlib.sha256)
    return digest.hexdigest()[:TAG_LENGTH]


@dataclass(frozen=True)
class SignedMessageId:
    """What a Message-ID we made says: the subscriber, and the edition or notice kind."""

    subscriber_id: int
    kind: str  # "digest", or the notice kind ("confirm", ...)
    edition_date: date | None = None  # digests only


_ID = r"([1-9][0-9]{0,17})"  # a subscriber id, written one way only
_DIGEST_ID = re.compile(rf"digest\.([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})\.{_ID}\.([0-9a-f]{{16}})")
_NOTICE_ID = re.compile(rf"notice\.([a-z0-9-]{{1,40}})\.{_ID}\.([0-9a-f]{{16}})\.([0-9a-f]{{16}})")


def notice_message_id(secret_key: str, domain: str, kind: str, subscriber_id: int) -> str:
    """A unique Message-ID for one notice to one subscriber, signed so a bounce of it proves
    which subscriber it was sent to."""
    label = re.sub(r"[^a-z0-9-]+", "-", kind.lower()).strip("-")[:40] or "notice"
    nonce = secrets.token_hex(8)
    tag = mail_tag(secret_key, f"notice:{label}:{subscriber_id}:{nonce}")
    return f"<notice.{label}.{subscriber_id}.{nonce}.{tag}@{domain}>"


def read_message_id(secret_key: str, message_id: str) -> SignedMessageId | None:
    """Who a Message-ID of ours was sent to, or None if it is not one we signed."""
    local, at, _domain = message_id.strip().strip("<>").strip().rpartition("@")
    if not at or len(local) > 200:
        return None
    if found := _DIGEST_ID.fullmatch(local):
        day, subscriber, tag = found.groups()
        # The payload of render.message.digest_message_id, which makes these ids.
        payload = f"digest:{day}:{int(subscriber)}"
        try:
            edition_date = date.fromisoformat(day)
        except ValueError:
            return None
        if hmac.compare_digest(tag, mail_tag(secret_key, payload)):
            return SignedMessageId(int(subscriber), "digest", edition_date)
        return None
    if found := _NOTICE_ID.fullmatch(local):
        label, subscriber, nonce, tag = found.groups()
        payload = f"notice:{label}:{int(subscriber)}:{nonce}"
        if hmac.compare_digest(tag, mail_tag(secret_key, payload)):
            return SignedMessageId(int(subscriber), label)
    return None
