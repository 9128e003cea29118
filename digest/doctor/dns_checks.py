"""The doctor's DNS checks: what receivers look up about the mail we send."""

from __future__ import annotations

from digest.doctor.records import (
    RecordError,
    aligned,
    is_dmarc,
    is_spf,
    key_mismatch,
    looks_like_dkim,
    organisational_domain,
    parse_dkim_record,
    parse_dmarc,
    parse_spf,
)
from digest.doctor.report import Check, Status
from digest.doctor.resolver import (
    DNS_TIMEOUT_SECONDS,
    DnsLookup,
    DnsProblem,
    DnsUnavailable,
    NoRecord,
)
from digest.errors import ConfigError
from digest.render.dkim import DkimKey, load_key
from digest.settings import Settings

SPF_REDIRECT_HOPS = 5
SHOWN_CHARS = 60
SPF_VERDICTS = {
    "-": (Status.OK, "strict: mail from other hosts fails"),
    "~": (Status.WARN, "soft fail: other hosts are only marked; use -all once every relay is in"),
    "?": (Status.WARN, "neutral: says nothing about other hosts; use -all"),
    "+": (Status.FAIL, "every host on the internet may send as this domain; use -all"),
    None: (Status.WARN, "no `all`: other hosts are neutral; end it with -all"),
}


def dns_checks(settings: Settings, *, timeout: float = DNS_TIMEOUT_SECONDS) -> list[Check]:
    """DKIM, SPF, DMARC and the bounce MX as DIGEST_DNS_RESOLVER (or the system) sees them."""
    domain = settings.sender_domain.lower()
    if not _public(domain):
        detail = f"{domain} is not a public domain (DIGEST_FROM), nothing to look up"
        return [Check("dns", Status.SKIP, detail)]
    try:
        lookup = DnsLookup.from_setting(settings.dns_resolver, timeout)
    except ConfigError as exc:
        return [Check("dns resolver", Status.FAIL, str(exc))]
    key = _key(settings)
    return [
        Check("dns resolver", Status.OK, f"asking {lookup.where}"),
        check_dkim_record(key, lookup),
        check_spf(domain, lookup),
        check_dmarc(domain, key, bounce_domain(settings), lookup),
        check_bounce_mx(bounce_domain(settings), lookup),
    ]


def bounce_domain(settings: Settings) -> str:
    """Where bounces go: DIGEST_RETURN_PATH's domain, else the From domain."""
    if settings.return_path:
        return settings.return_path.rsplit("@", 1)[-1].lower()
    return settings.sender_domain.lower()


def check_dkim_record(key: DkimKey | ConfigError | None, lookup: DnsLookup) -> Check:
    """The TXT record at <selector>._domainkey.<domain> publishes the configured key."""
    name = "dkim record"
    if isinstance(key, ConfigError):
        return Check(name, Status.SKIP, "the configured key does not load (see dkim key)")
    if key is None:
        return Check(name, Status.SKIP, "no DKIM key configured, no record to look for")
    where = f"{key.selector}._domainkey.{key.domain}"
    try:
        texts = [text for text in lookup.txt(where) if looks_like_dkim(text)]
    except NoRecord as exc:
        return Check(name, Status.FAIL, f"no DKIM record: {exc} (see dkim key for what to publish)")
    except DnsProblem as exc:
        return _unanswered(name, exc)
    if not texts:
        return Check(name, Status.FAIL, f"the TXT record at {where} is not a DKIM key")
    problems: list[str] = []
    for text in texts:
        try:
            record = parse_dkim_record(text)
        except RecordError as exc:
            problems.append(f"{where} is not a valid DKIM record: {exc}")
            continue
        if not record.public_key:
            problems.append(f"{where} has an empty p=: the key is revoked")
            continue
        mismatch = key_mismatch(record, key)
        if mismatch:
            problems.append(f"{where} does not match the key: {mismatch}")
            continue
        detail = f"{where} publishes the configured {key.bits}-bit RSA key"
        if len(texts) > 1:
            return Check(name, Status.WARN, f"{detail}, beside {len(texts) - 1} other record(s)")
        if record.testing:
            return Check(name, Status.WARN, f"{detail} (t=y: testing mode, remove it)")
        return Check(name, Status.OK, detail)
    return Check(name, Status.FAIL, problems[0])


def check_spf(domain: str, lookup: DnsLookup) -> Check:
    """Exactly one v=spf1 record, and what it says of hosts it does not list."""
    name = "spf"
    seen = domain
    for _ in range(SPF_REDIRECT_HOPS):
        try:
            records = [text for text in lookup.txt(seen) if is_spf(text)]
        except NoRecord as exc:
            return Check(name, Status.FAIL, f"no SPF record: {exc}")
        except DnsProblem as exc:
            return _unanswered(name, exc)
        if not records:
            return Check(name, Status.FAIL, f"no v=spf1 TXT record at {seen}")
        if len(records) > 1:
            return Check(
                name,
                Status.FAIL,
                f"{len(records)} v=spf1 records at {seen}: receivers treat that as a permanent "
                "error (RFC 7208 §4.5); merge them into one",
            )
        policy = parse_spf(records[0])
        if policy.redirect is None:
            status, verdict = SPF_VERDICTS[policy.all_qualifier]
            via = "" if seen == domain else f" (via redirect to {seen})"
            return Check(name, status, f"{_shown(records[0])}{via}: {verdict}")
        seen = policy.redirect
    return Check(name, Status.FAIL, f"more than {SPF_REDIRECT_HOPS} SPF redirects from {domain}")


def check_dmarc(
    domain: str, key: DkimKey | ConfigError | None, bounce: str, lookup: DnsLookup
) -> Check:
    """A v=DMARC1 record for the From domain (or its organisational domain), its policy,
    and whether the DKIM d= domain aligns with the From domain under its adkim rule."""
    name = "dmarc"
    found = _find_dmarc(domain, lookup)
    if isinstance(found, Check):
        return found
    where, text = found
    try:
        record = parse_dmarc(text)
    except RecordError as exc:
        return Check(name, Status.FAIL, f"{where} is not a valid DMARC record: {exc}")
    policy = record.policy
    if where != f"_dmarc.{domain}" and record.subdomain_policy:
        policy = record.subdomain_policy
    summary = f"p={policy}{' (monitoring only)' if policy == 'none' else ''} at {where}"
    if isinstance(key, DkimKey):
        mode = "strict" if record.adkim == "s" else "relaxed"
        if aligned(key.domain, domain, record.adkim):
            return Check(name, Status.OK, f"{summary}; DKIM d={key.domain} aligns ({mode})")
        return Check(
            name,
            Status.FAIL,
            f"{summary}; DKIM d={key.domain} does not align with {domain} under "
            f"adkim={record.adkim} ({mode}): DMARC then rests on SPF alone",
        )
    if aligned(bounce, domain, record.aspf):
        detail = f"{summary}; no DKIM key: only SPF of {bounce} aligns, and forwarding breaks it"
        return Check(name, Status.WARN, detail)
    detail = f"{summary}; no DKIM key and {bounce} does not align under aspf={record.aspf}"
    return Check(name, Status.FAIL, detail)


def _find_dmarc(domain: str, lookup: DnsLookup) -> tuple[str, str] | Check:
    """(where, record) at _dmarc.<domain>, else at the organisational domain's."""
    name = "dmarc"
    owners = [f"_dmarc.{owner}" for owner in dict.fromkeys([domain, organisational_domain(domain)])]
    for where in owners:
        try:
            records = [text for text in lookup.txt(where) if is_dmarc(text)]
        except NoRecord:
            continue
        except DnsProblem as exc:
            return _unanswered(name, exc)
        if len(records) > 1:
            detail = f"{len(records)} v=DMARC1 records at {where}: receivers ignore them all"
            return Check(name, Status.FAIL, f"{detail} (RFC 7489 §6.6.3); keep one")
        if records:
            return where, records[0]
    return Check(name, Status.FAIL, f"no v=DMARC1 record at {' or '.join(owners)}")


def check_bounce_mx(domain: str, lookup: DnsLookup) -> Check:
    """The bounce domain receives mail: an MX, or (RFC 5321 §5.1) an A/AAAA record."""
    name = "bounce mx"
    try:
        exchanges = lookup.mx(domain)
    except NoRecord as exc:
        if exc.nxdomain:
            return Check(name, Status.FAIL, f"{exc}: bounces to it are lost")
        return _address_fallback(domain, lookup)
    except DnsProblem as exc:
        return _unanswered(name, exc)
    if exchanges == [(0, ".")]:
        return Check(name, Status.FAIL, f"{domain} has a null MX (RFC 7505): bounces are refused")
    listed = ", ".join(f"{preference} {host}" for preference, host in exchanges[:3])
    more = f" and {len(exchanges) - 3} more" if len(exchanges) > 3 else ""
    return Check(name, Status.OK, f"{domain} receives bounces at MX {listed}{more}")


def _address_fallback(domain: str, lookup: DnsLookup) -> Check:
    name = "bounce mx"
    try:
        addresses = lookup.addresses(domain)
    except NoRecord:
        return Check(name, Status.FAIL, f"{domain} has no MX and no A/AAAA: bounces are lost")
    except DnsProblem as exc:
        return _unanswered(name, exc)
    return Check(
        name,
        Status.WARN,
        f"{domain} has no MX; mail falls back to its address {addresses[0]} "
        "(RFC 5321 §5.1): publish an MX",
    )


def _key(settings: Settings) -> DkimKey | ConfigError | None:
    try:
        return load_key(settings.email)
    except ConfigError as exc:
        return exc


def _public(domain: str) -> bool:
    return "." in domain and not domain.endswith((".localhost", ".")) and "[" not in domain


def _unanswered(name: str, exc: DnsProblem) -> Check:
    repeated = isinstance(exc, DnsUnavailable) and exc.repeated
    return Check(name, Status.SKIP if repeated else Status.FAIL, str(exc))


def _shown(record: str) -> str:
    text = " ".join(record.split())
    return f'"{text}"' if len(text) <= SHOWN_CHARS else f'"{text[: SHOWN_CHARS - 1]}…"'
