"""`digest doctor` in production fails a base URL, From domain or Message-ID domain that
readers or receiving servers cannot look up, each with the setting that fixes it; in
development the local defaults pass. Run as the operator runs it: a `digest` process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from digest.doctor.hosts import host_problem
from tests.conftest import TEST_SECRET, SmtpSink
from tests.conftest import run_digest as run
from tests.doctor.conftest import Tls

FIX_BASE_URL = (
    "Fix: set DIGEST_BASE_URL to the public https:// address of the web app, "
    "e.g. https://digest.example.org"
)
FIX_FROM = (
    "Fix: set DIGEST_FROM to an address at your own domain, e.g. 'Papers <digest@example.org>'"
)


def production(tmp_path: Path, tls: Tls, starttls_url: str, **settings: str) -> dict[str, str]:
    """A production set-up that passes every check (public names, SMTP over trusted TLS),
    with `settings` on top."""
    return {
        "DIGEST_ENV": "production",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_CONTACT": "ops@example.org",
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'doctor.db'}",
        "DIGEST_MAIL_URL": starttls_url,
        # The process trusts the test CA as the system's store (OpenSSL reads this).
        "SSL_CERT_FILE": str(tls.ca_file),
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_FROM": "Trending Papers <digest@example.org>",
        **settings,
    }


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's line, by the check's name."""
    return {line.split(":")[0].split(maxsplit=1)[1]: line for line in result.stdout.splitlines()}


def test_public_names_pass_in_production(tmp_path: Path, tls: Tls, starttls_url: str) -> None:
    result = run(["doctor", "--no-dns"], production(tmp_path, tls, starttls_url), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert (
        found["base url"]
        == "ok    base url: https://digest.example.org is HTTPS on a public domain name"
    )
    assert found["message-id domain"] == (
        "ok    message-id domain: example.org is a fully qualified domain name"
    )
    assert found["from domain"].startswith("skip  from domain: example.org")  # no DKIM key


def test_the_defaults_fail_in_production_each_with_its_fix(
    tmp_path: Path, tls: Tls, starttls_url: str
) -> None:
    env = production(tmp_path, tls, starttls_url)
    del env["DIGEST_BASE_URL"], env["DIGEST_FROM"]  # http://localhost:8000, digest@localhost
    result = run(["doctor", "--no-dns"], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "digest: doctor: 3 checks failed"
    found = lines(result)
    assert found["from domain"] == (
        "FAIL  from domain: DIGEST_FROM's domain localhost is this machine: receivers cannot "
        "check it, and filters score it as spam (rspamd HFILTER_FROMHOST_NOT_FQDN). " + FIX_FROM
    )
    assert found["message-id domain"] == (
        "FAIL  message-id domain: Message-IDs end in @localhost, and localhost is this machine "
        "(rspamd MID_RHS_NOT_FQDN); they take DIGEST_FROM's domain. " + FIX_FROM
    )
    assert found["base url"] == (
        "FAIL  base url: http://localhost:8000: plain http, but one-click unsubscribe needs "
        "https; localhost is this machine, so its links fail for readers or look suspicious to "
        "filters (rspamd R_SUSPICIOUS_URL). " + FIX_BASE_URL
    )
    assert found["smtp"].startswith("ok    smtp:")


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("http://digest.example.org", "plain http, but one-click unsubscribe needs https"),
        ("https://localhost:8443", "localhost is this machine"),
        ("https://papers.localhost", "papers.localhost is this machine"),
        ("https://127.0.0.1", "127.0.0.1 is a loopback address"),
        ("https://[::1]:8000", "::1 is a loopback address"),
        ("https://203.0.113.7", "203.0.113.7 is an IP address, not a domain name"),
        ("https://digest", "digest is a bare host name, not a fully qualified domain name"),
        ("https://papers.internal", "papers.internal ends in .internal"),
    ],
)
def test_a_base_url_readers_cannot_reach_fails_in_production(
    tmp_path: Path, tls: Tls, starttls_url: str, base_url: str, why: str
) -> None:
    env = production(tmp_path, tls, starttls_url, DIGEST_BASE_URL=base_url)
    result = run(["doctor", "--no-dns"], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "digest: doctor: 1 check failed"
    line = lines(result)["base url"]
    assert line.startswith(f"FAIL  base url: {base_url}: ") and why in line, line
    assert line.endswith(FIX_BASE_URL)


@pytest.mark.parametrize(
    ("sender", "why"),
    [
        ("digest@mailhost", "mailhost is a bare host name"),
        ("digest@box.localdomain", "box.localdomain ends in .localdomain"),
        ("digest@[192.0.2.1]", "[192.0.2.1] is an IP address"),
    ],
)
def test_a_from_domain_that_is_not_a_public_fqdn_fails_twice_in_production(
    tmp_path: Path, tls: Tls, starttls_url: str, sender: str, why: str
) -> None:
    """The From domain and the Message-IDs' domain: one setting fixes both."""
    env = production(tmp_path, tls, starttls_url, DIGEST_FROM=f"Papers <{sender}>")
    result = run(["doctor", "--no-dns"], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "digest: doctor: 2 checks failed"
    found = lines(result)
    for name in ("from domain", "message-id domain"):
        assert found[name].startswith(f"FAIL  {name}: "), found[name]
        assert found[name].endswith(FIX_FROM), found[name]
    assert why in found["from domain"] and why in found["message-id domain"]


def test_development_accepts_the_local_defaults(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    env = {
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'doctor.db'}",
        "DIGEST_MAIL_URL": smtp_sink.url,
    }
    result = run(["doctor", "--no-dns"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert found["base url"] == (
        "ok    base url: http://localhost:8000 (fine in development; production needs https "
        "on a public domain)"
    )
    assert found["message-id domain"] == (
        "ok    message-id domain: localhost (fine in development; production needs a public FQDN)"
    )


@pytest.mark.parametrize(
    "host",
    ["example.org", "digest.example.org", "news.example.co.uk", "bücher.de", "xn--bcher-kva.de"],
)
def test_public_names(host: str) -> None:
    assert host_problem(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "",
        ".",
        "localhost",
        "LOCALHOST.",
        "a..b",
        "-a.example.org",
        "x" * 64 + ".org",
        "a.b.123",
        "papers.example",
        "mail.test",
        "router.home.arpa",
        "10.1.2.3",
        "[2001:db8::1]",
    ],
)
def test_names_that_are_not_public(host: str) -> None:
    assert host_problem(host) is not None
