"""The doctor's checks of this machine's set-up: the DKIM key, the From domain, the
Message-ID domain, the base URL and SMTP with TLS.

In production each names the setting that fixes it; in development a local address is
expected and passes.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage
from urllib.parse import urlsplit

import dkim

from digest.doctor.hosts import host_problem
from digest.doctor.report import Check, Status
from digest.errors import ConfigError
from digest.mail.smtp import SmtpConfig
from digest.render.dkim import DkimKey, DkimSigner, load_key, signing_domain
from digest.render.message import digest_message_id
from digest.settings import Settings

SMTP_TIMEOUT_SECONDS = 10.0
WEAK_KEY_BITS = 2048
FIX_FROM = "set DIGEST_FROM to an address at your own domain, e.g. 'Papers <digest@example.org>'"
FIX_BASE_URL = (
    "set DIGEST_BASE_URL to the public https:// address of the web app, "
    "e.g. https://digest.example.org"
)


def config_checks(settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> list[Check]:
    """The checks of this machine's set-up, in order; `tls_context` replaces the system
    trust store (tests)."""
    key, dkim_check = check_dkim_key(settings)
    return [
        dkim_check,
        check_from_domain(settings, key),
        check_message_id_domain(settings),
        check_base_url(settings),
        check_smtp(settings, tls_context or ssl.create_default_context()),
    ]


def check_dkim_key(settings: Settings) -> tuple[DkimKey | None, Check]:
    """The key loads and a message signed with it verifies against its own public key."""
    name = "dkim key"
    try:
        key = load_key(settings.email)
    except ConfigError as exc:
        return None, Check(name, Status.FAIL, str(exc))
    if key is None:
        return None, Check(
            name,
            Status.WARN,
            "not configured (DIGEST_DKIM_KEY_FILE, DIGEST_DKIM_SELECTOR): messages leave "
            "unsigned unless your relay signs them",
        )
    where = f"{key.selector}._domainkey.{key.domain}"
    try:
        raw = DkimSigner(key).sign(_probe_message(settings)).as_bytes()
        verified = dkim.verify(raw, dnsfunc=lambda *_, **__: key.public_record().encode("ascii"))
    except (dkim.DKIMException, ValueError, IndexError) as exc:
        return key, Check(name, Status.FAIL, f"cannot sign with {where}: {exc}")
    if not verified:
        return key, Check(name, Status.FAIL, f"a signature by {where} does not verify")
    detail = f"{key.bits}-bit RSA signs and verifies; publish its public key at {where}"
    if key.bits < WEAK_KEY_BITS:
        return key, Check(name, Status.WARN, f"{detail} (use {WEAK_KEY_BITS} bits or more)")
    return key, Check(name, Status.OK, detail)


def check_from_domain(settings: Settings, key: DkimKey | None) -> Check:
    """DMARC needs the From domain aligned with the DKIM d= domain."""
    name = "from domain"
    sender = settings.sender_domain.lower()
    problem = host_problem(sender)
    if settings.env == "production" and problem is not None:
        return Check(
            name,
            Status.FAIL,
            f"DIGEST_FROM's domain {problem}: receivers cannot check it, and filters score "
            "it as spam (rspamd HFILTER_FROMHOST_NOT_FQDN)",
            FIX_FROM,
        )
    if key is None:
        return Check(name, Status.SKIP, f"{sender} (no DKIM key to align with)")
    signer = signing_domain(settings.email)
    if sender == signer:
        return Check(name, Status.OK, f"{sender} matches the DKIM domain")
    if sender.endswith(f".{signer}"):
        return Check(name, Status.OK, f"{sender} is under the DKIM domain {signer} (relaxed)")
    return Check(
        name, Status.FAIL, f"{sender} does not match the DKIM domain {signer}: DMARC will fail"
    )


def check_message_id_domain(settings: Settings) -> Check:
    """The domain after the @ of the Message-IDs we make must be a public FQDN."""
    name = "message-id domain"
    message_id = digest_message_id(settings.email, 1, date(2026, 1, 1))
    domain = message_id.strip("<>").rpartition("@")[2]
    problem = host_problem(domain)
    if problem is None:
        return Check(name, Status.OK, f"{domain} is a fully qualified domain name")
    if settings.env == "production":
        return Check(
            name,
            Status.FAIL,
            f"Message-IDs end in @{domain}, and {problem} (rspamd MID_RHS_NOT_FQDN); they "
            "take DIGEST_FROM's domain",
            FIX_FROM,
        )
    return Check(name, Status.OK, f"{domain} (fine in development; production needs a public FQDN)")


def check_base_url(settings: Settings) -> Check:
    """Links in production must be HTTPS (one-click unsubscribe requires it) on a public
    domain name: readers open them, and filters distrust links to addresses and local names."""
    name = "base url"
    url = settings.base_url
    parts = urlsplit(url)
    problems = []
    if parts.scheme != "https":
        problems.append("plain http, but one-click unsubscribe needs https")
    host = host_problem(parts.hostname or "")
    if host is not None:
        problems.append(
            f"{host}, so its links fail for readers or look suspicious to filters "
            "(rspamd R_SUSPICIOUS_URL)"
        )
    if not problems:
        return Check(name, Status.OK, f"{url} is HTTPS on a public domain name")
    if settings.env == "production":
        return Check(name, Status.FAIL, f"{url}: {'; '.join(problems)}", FIX_BASE_URL)
    return Check(
        name, Status.OK, f"{url} (fine in development; production needs https on a public domain)"
    )


def check_smtp(settings: Settings, context: ssl.SSLContext) -> Check:
    """The SMTP server answers, speaks TLS (smtps:// or STARTTLS) and accepts the login."""
    name = "smtp"
    try:
        config = SmtpConfig.from_url(settings.mail_url, timeout=SMTP_TIMEOUT_SECONDS)
    except ConfigError as exc:
        return Check(name, Status.FAIL, str(exc))
    where = f"{config.host}:{config.port}"
    try:
        tls, login = _probe_smtp(config, context)
    except ssl.SSLError as exc:
        return Check(name, Status.FAIL, f"{where}: TLS failed: {exc.reason or exc}")
    except smtplib.SMTPAuthenticationError as exc:
        return Check(name, Status.FAIL, f"{where}: login refused ({exc.smtp_code})")
    except (OSError, smtplib.SMTPException) as exc:
        return Check(name, Status.FAIL, f"{where} unreachable: {exc or type(exc).__name__}")
    if tls is None:
        advice = "use smtps:// or add ?starttls=1"
        status = Status.FAIL if settings.env == "production" else Status.WARN
        return Check(name, status, f"{where} answers, but without TLS ({advice})")
    return Check(name, Status.OK, f"{where} answers over {tls}{login}")


def _probe_smtp(config: SmtpConfig, context: ssl.SSLContext) -> tuple[str | None, str]:
    """(TLS description or None, login note); raises what smtplib and ssl raise."""
    client: smtplib.SMTP
    if config.use_ssl:
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        client.ehlo()
        if not config.use_ssl:
            if not config.starttls:
                return None, ""
            client.starttls(context=context)
            client.ehlo()
        version = _tls_version(client)
        how = "implicit TLS" if config.use_ssl else "STARTTLS"
        login = ""
        if config.username and config.password:
            client.login(config.username, config.password)
            login = ", login accepted"
        return f"{how} ({version})", login


def _tls_version(client: smtplib.SMTP) -> str:
    version: Callable[[], str | None] | None = getattr(client.sock, "version", None)
    return (version() if version else None) or "TLS"


def _probe_message(settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = settings.from_address
    message["Subject"] = "digest doctor: DKIM probe"
    message["Message-ID"] = f"<doctor@{settings.sender_domain}>"
    message["Date"] = "Thu, 01 Jan 2026 00:00:00 +0000"
    message.set_content("probe\n")
    return message
