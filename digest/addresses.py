"""Email address validation and normalisation."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from digest.errors import InvalidEmail

MAX_EMAIL_LENGTH = 254


def normalise_email(raw: str) -> str:
    """Return the canonical form of an address, or raise InvalidEmail with the reason.

    The domain is lower-cased by email-validator; the local part is lower-cased too, because
    subscribers expect Foo@Example.com and foo@example.com to be one subscription.
    """
    if "\r" in raw or "\n" in raw:
        raise InvalidEmail("an email address cannot contain line breaks")
    candidate = raw.strip()
    if not candidate:
        raise InvalidEmail("please enter an email address")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"an email address cannot be longer than {MAX_EMAIL_LENGTH} characters")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    local, domain = result.normalized.rsplit("@", 1)
    normalised = f"{local.lower()}@{domain.lower()}"
    if len(normalised) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"an email address cannot be longer than {MAX_EMAIL_LENGTH} characters")
    return normalised
