"""`digest doctor`: check the mail set-up an inbox provider will judge, one line per check."""

from __future__ import annotations

import ssl

from digest.doctor.config import config_checks
from digest.doctor.dns_checks import dns_checks
from digest.doctor.report import Check, Status
from digest.settings import Settings

__all__ = ["Check", "Status", "config_checks", "dns_checks", "run_checks"]


def run_checks(
    settings: Settings, *, tls_context: ssl.SSLContext | None = None, dns: bool = True
) -> list[Check]:
    """The set-up checks, then (unless `dns` is False) what DNS publishes about it."""
    checks = config_checks(settings, tls_context=tls_context)
    if not dns:
        return [*checks, Check("dns", Status.SKIP, "not checked (--no-dns)")]
    return [*checks, *dns_checks(settings)]
