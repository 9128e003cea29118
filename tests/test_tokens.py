"""Link tokens: bound to a purpose, a subscriber and their address, revealing nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from freezegun import freeze_time
from itsdangerous import URLSafeTimedSerializer

from digest.errors import InvalidToken
from digest.tokens import Purpose, make_short_token, make_token, read_short_token, read_token

SECRET = "a-secret-key-long-enough-for-the-tests-0123456789"


def _payload(token: str) -> list[object]:
    body = token.split(".")[0]
    decoded: list[object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def test_a_token_does_not_let_anyone_test_a_guessed_address() -> None:
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 7, "guess@example.org")
    subscriber_id, fingerprint = _payload(token)

    assert subscriber_id == 7
    # Without the secret, hashing the guess gives nothing to compare with.
    assert fingerprint != hashlib.sha256(b"guess@example.org").hexdigest()[:16]
    assert "guess" not in token
    subject = read_token(SECRET, Purpose.UNSUBSCRIBE, token)
    assert subject.matches("guess@example.org") and not subject.matches("other@example.org")


def test_the_fingerprint_depends_on_the_secret() -> None:
    one = _payload(make_token(SECRET, Purpose.CONFIRM, 7, "a@example.org"))[1]
    other = _payload(make_token(SECRET + "x", Purpose.CONFIRM, 7, "a@example.org"))[1]
    assert one != other


def _legacy(purpose: Purpose, email: str) -> str:
    """A link as emails sent before the fingerprint was keyed carry it."""
    serializer = URLSafeTimedSerializer(SECRET, salt=f"digest.{purpose.value}")
    return str(serializer.dumps([7, hashlib.sha256(email.encode()).hexdigest()[:16]]))


def test_unsubscribe_links_already_in_inboxes_keep_working_and_nothing_else_does() -> None:
    old_unsubscribe = read_token(
        SECRET, Purpose.UNSUBSCRIBE, _legacy(Purpose.UNSUBSCRIBE, "a@example.org")
    )
    assert old_unsubscribe.matches("a@example.org")
    old_preferences = read_token(
        SECRET, Purpose.PREFERENCES, _legacy(Purpose.PREFERENCES, "a@example.org")
    )
    assert not old_preferences.matches("a@example.org")


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    token = make_token(SECRET, Purpose.UNSUBSCRIBE, 7, "a@example.org")
    with pytest.raises(InvalidToken):
        read_token(SECRET, Purpose.PREFERENCES, token)


@pytest.mark.parametrize("subscriber_id", [1, 7, 255, 256, 10**6, 2**62])
@pytest.mark.parametrize("email", ["a@example.org", "ünïcode@example.org", "x" * 200 + "@e.org"])
@pytest.mark.parametrize("purpose", list(Purpose))
def test_tokens_are_byte_for_byte_those_of_itsdangerous(
    subscriber_id: int, email: str, purpose: Purpose
) -> None:
    """Links already in inboxes and links made by another version read the same."""
    fingerprint = hmac.new(
        f"digest.address:{SECRET}".encode(), email.encode(), hashlib.sha256
    ).hexdigest()[:16]
    reference = URLSafeTimedSerializer(SECRET, salt=f"digest.{purpose.value}")
    with freeze_time("2026-12-01 06:00:00"):
        ours = make_token(SECRET, purpose, subscriber_id, email)
        assert ours == reference.dumps([subscriber_id, fingerprint])
    assert read_token(SECRET, purpose, ours).matches(email)


def test_a_short_token_names_its_subscriber_and_holds_only_for_their_address() -> None:
    token = make_short_token(SECRET, Purpose.FEEDBACK, 4242, "a@example.org")
    number, tag = token.split(".")
    assert number == "4242" and len(tag) == 12 and "a@example.org" not in token
    subject = read_short_token(SECRET, Purpose.FEEDBACK, token)
    assert subject.subscriber_id == 4242
    assert subject.matches("a@example.org") and not subject.matches("b@example.org")
    # Not another subscriber's, purpose's or secret's.
    assert not read_short_token(SECRET, Purpose.FEEDBACK, "4243." + tag).matches("a@example.org")
    assert not read_short_token(SECRET, Purpose.UNSUBSCRIBE, token).matches("a@example.org")
    assert not read_short_token(SECRET + "x", Purpose.FEEDBACK, token).matches("a@example.org")


@pytest.mark.parametrize(
    "token", ["", "4242", "4242.", "0.AAAAAAAAAAAA", "42.AAAAAAAAAAA", "42.AAAAAAAAAAA=", "x.y.z"]
)
def test_a_malformed_short_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        read_short_token(SECRET, Purpose.FEEDBACK, token)
