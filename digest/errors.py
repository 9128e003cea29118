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
    """The server refused this recipient for good (5xx); do not retry."""


class TemporaryFailure(SendError):
    """The server or the connection failed in a way worth retrying later."""


class Unreachable(TemporaryFailure):
    """No connection to the SMTP server could be opened."""


class Unsendable(SendError):
    """This one message cannot be sent as it is (its address, its encoding); do not retry,
    and do not hold the subscriber responsible as for a bounce."""
