"""What a failed send means, the same for every kind of email (digest or notice).

One place decides it, so a digest and a confirmation to the same dead address are treated
alike: a permanent refusal bounces (and so suppresses) the address whatever the email was.
"""

from __future__ import annotations

import enum

from digest.errors import PermanentRejection, TemporaryFailure, Unreachable


class SendFailure(enum.Enum):
    BOUNCED = "bounced"  # the server refused the recipient for good (5xx): suppress it
    UNREACHABLE = "unreachable"  # no server: retry later, and stop sending this run
    RETRY = "retry"  # a temporary failure (4xx, a dropped connection): retry later
    FAILED = "failed"  # this message only (its encoding, its address): never retried


def classify_send_failure(exc: Exception) -> SendFailure:
    """What the exception a sender raised means for the message and its address."""
    if isinstance(exc, PermanentRejection):
        return SendFailure.BOUNCED
    if isinstance(exc, Unreachable):
        return SendFailure.UNREACHABLE
    if isinstance(exc, TemporaryFailure):
        return SendFailure.RETRY
    # Failed, not retried: the server may have taken it, and a second copy is worse.
    return SendFailure.FAILED
