"""Errors the core raises; the CLI and the web turn them into clear messages."""


class DigestError(Exception):
    """Base class for every error a user or operator can cause."""


class ConfigError(DigestError):
    """The configuration is missing a value or holds an unusable one."""


class InvalidEmail(DigestError):
    """An email address that cannot be accepted."""


class InvalidToken(DigestError):
    """A signed link token that is tampered with, malformed or for another purpose."""


class ExpiredToken(InvalidToken):
    """A signed link token that was valid but is too old."""


class SourceError(DigestError):
    """A paper source could not be reached or answered with something unusable."""


class SendError(DigestError):
    """The SMTP server could not be reached or refused the message."""


class PermanentRejection(SendError):
    """The server refused this recipient for good (a 5xx about the address); do not retry,
    and bounce the address."""


class MessageRefused(SendError):
    """The server refused this message for good for a reason that is not about the address
    (policy, content, a blocked sender: 5.7.x and the like); do not retry, keep the address."""


class TemporaryFailure(SendError):
    """The server or the connection failed in a way worth retrying later."""


class Unreachable(TemporaryFailure):
    """No connection to the SMTP server could be opened."""


class RelayRefused(Unreachable):
    """The relay refused our session or our envelope sender (MAIL FROM) for good: nothing
    can go out through it until the operator fixes that, so the run stops and the rest waits
    for a retry, as when the server is down; no subscriber is blamed."""


class Unsendable(SendError):
    """This one message cannot be sent as it is (its address, its encoding); do not retry,
    and do not hold the subscriber responsible as for a bounce."""
