"""Signed tokens carried in links: confirm (expires), unsubscribe and preferences (do not)."""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digest.errors import ExpiredToken, InvalidToken


class Purpose(enum.StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    FEEDBACK = "feedback"


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
    key = f"digest.address:{secret_key}".encode()
    return hmac.new(key, email.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _unkeyed_fingerprint(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:16]


def _serializer(secret_key: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"digest.{purpose.value}")


def make_token(secret_key: str, purpose: Purpose, subscriber_id: int, email: str) -> str:
    """A URL-safe token binding the subscriber id and address to one purpose."""
    return _serializer(secret_key, purpose).dumps(
        [subscriber_id, email_fingerprint(secret_key, email)]
    )


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
    raise InvalidToken("the link is not valid")
