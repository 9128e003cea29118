"""`digest doctor`'s DNS checks, asking a real DNS server in the test process.

Every run points DIGEST_DNS_RESOLVER at a local server: no test asks the system's resolver.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnslib import MX, TXT, A
from typer.testing import CliRunner

from digest.cli import app
from digest.settings import get_settings
from tests.conftest import TEST_SECRET, SmtpSink
from tests.conftest import run_digest as run
from tests.doctor.dns_server import Zone, serve_zone, silent_resolver


@dataclass(frozen=True)
class Key:
    pem: bytes
    record: str  # v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>


def make_key(bits: int) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key(pem, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode('ascii')}")


def txt(text: str, size: int = 255) -> TXT:
    """One TXT record, cut into strings of `size` characters as zone files do."""
    return TXT([text[i : i + size] for i in range(0, len(text), size)])


@dataclass(frozen=True)
class Keys:
    good: Key
    other: Key
    long: Key


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(good=make_key(2048), other=make_key(1024), long=make_key(4096))


def add_domain(
    zone: Zone,
    domain: str,
    *,
    dkim: str | None = None,
    spf: list[str] | None = None,
    dmarc: str | None = "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}",
    mx: bool = True,
) -> None:
    if dkim is not None:
        zone.add(f"s1._domainkey.{domain}", "TXT", txt(dkim, 100))
    zone.add(domain, "TXT", txt("site-verification=4f2a9c"))  # not SPF: ignored
    for record in ["v=spf1 mx -all"] if spf is None else spf:
        zone.add(domain, "TXT", txt(record))
    if dmarc is not None:
        zone.add(f"_dmarc.{domain}", "TXT", txt(dmarc.format(domain=domain)))
    if mx:
        zone.add(domain, "MX", MX(f"mail.{domain}", 10))
        zone.add(f"mail.{domain}", "A", A("192.0.2.25"))


@dataclass(frozen=True)
class Dns:
    zone: Zone
    port: int

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def dns(keys: Keys) -> Iterator[Dns]:
    zone = Zone()
    add_domain(zone, "good.example", dkim=keys.good.record)
    zone.add("_spf.good.example", "TXT", txt("v=spf1 ip4:192.0.2.0/24 -all"))
    add_domain(zone, "long.example", dkim=keys.long.record)
    add_domain(zone, "wrongkey.example", dkim=keys.other.record)
    add_domain(zone, "revoked.example", dkim="v=DKIM1; k=rsa; p=")
    add_domain(
        zone,
        "twospf.example",
        dkim=keys.good.record,
        spf=["v=spf1 mx -all", "v=spf1 include:_spf.mailer.example ~all"],
    )
    add_domain(zone, "soft.example", dkim=keys.good.record, spf=["v=spf1 mx ~all"])
    add_domain(zone, "plusall.example", spf=["v=spf1 +all"])
    add_domain(zone, "neutral.example", spf=["v=spf1 a mx ?all"])
    add_domain(zone, "noall.example", spf=["v=spf1 mx"])
    add_domain(zone, "redirect.example", spf=["v=spf1 redirect=_spf.good.example"])
    # The From domain is below the DKIM domain: relaxed alignment holds, strict does not.
    add_domain(zone, "strict.example", dkim=keys.good.record, dmarc=None)
    zone.add("_dmarc.strict.example", "TXT", txt("v=DMARC1; p=quarantine; sp=reject; adkim=s"))
    add_domain(zone, "news.strict.example", dmarc=None)
    zone.add("missing.example", "A", A("192.0.2.10"))  # exists, but publishes nothing else
    zone.add("nullmx.example", "MX", MX(".", 0))
    zone.servfail.add("servfail.example")
    with serve_zone(zone) as port:
        yield Dns(zone, port)


@pytest.fixture
def doctor_env(tmp_path: Path, smtp_sink: SmtpSink, dns: Dns, keys: Keys) -> dict[str, str]:
    """DKIM with the good key, plain SMTP (a warning in development), the local resolver."""
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(keys.good.pem)
    return {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'doctor.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_DNS_RESOLVER": dns.resolver,
        "DIGEST_FROM": "Trending Papers <digest@good.example>",
        "DIGEST_DKIM_KEY_FILE": str(key_file),
        "DIGEST_DKIM_SELECTOR": "s1",
    }


@dataclass(frozen=True)
class Report:
    lines: list[str]
    exit_code: int
    error: str  # what `digest` prints on stderr, without its "digest: " prefix

    def line(self, name: str) -> str:
        found = [line for line in self.lines if line.split(":")[0].split()[1:] == name.split()]
        assert len(found) == 1, (name, self.lines)
        return found[0]


def doctor(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str) -> Report:
    """`digest doctor` in this process (so the run is quick) with exactly `env` set."""
    for name in [name for name in os.environ if name.startswith("DIGEST_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["doctor", *args])
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        error = str(result.exception)
        assert type(result.exception).__name__ == "DigestError", error
    else:
        error = ""
    return Report(result.stdout.splitlines(), result.exit_code, error)


def test_a_good_domain_passes_every_check_in_a_real_process(
    doctor_env: dict[str, str], dns: Dns, tmp_path: Path
) -> None:
    result = run(["doctor"], doctor_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-5:] == [
        f"ok    dns resolver: asking {dns.resolver}",
        "ok    dkim record: s1._domainkey.good.example publishes the configured 2048-bit RSA key",
        'ok    spf: "v=spf1 mx -all": strict: mail from other hosts fails',
        "ok    dmarc: p=reject at _dmarc.good.example; DKIM d=good.example aligns (relaxed)",
        "ok    bounce mx: good.example receives bounces at MX 10 mail.good.example",
    ]
    assert result.stderr == ""


def test_a_long_record_in_pieces_comes_over_tcp_and_is_joined(
    doctor_env: dict[str, str],
    dns: Dns,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "long.pem").write_bytes(keys.long.pem)
    env = {
        **doctor_env,
        "DIGEST_FROM": "Papers <digest@long.example>",
        "DIGEST_DKIM_KEY_FILE": str(tmp_path / "long.pem"),
    }
    report = doctor(env, monkeypatch, tmp_path)
    assert report.line("dkim record") == (
        "ok    dkim record: s1._domainkey.long.example publishes the configured 4096-bit RSA key"
    )
    assert ("s1._domainkey.long.example", "TXT", "tcp") in dns.zone.queries
    assert report.exit_code == 0, report.lines


def test_a_different_or_revoked_key_fails_saying_which(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrong = doctor(
        {**doctor_env, "DIGEST_FROM": "P <digest@wrongkey.example>"}, monkeypatch, tmp_path
    )
    assert wrong.line("dkim record") == (
        "FAIL  dkim record: s1._domainkey.wrongkey.example does not match the key: it publishes "
        "a different 1024-bit key than DIGEST_DKIM_KEY_FILE"
    )
    assert (wrong.exit_code, wrong.error) == (1, "doctor: 1 check failed")
    revoked = doctor(
        {**doctor_env, "DIGEST_FROM": "P <digest@revoked.example>"}, monkeypatch, tmp_path
    )
    assert revoked.line("dkim record") == (
        "FAIL  dkim record: s1._domainkey.revoked.example has an empty p=: the key is revoked"
    )
    assert revoked.exit_code == 1


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        (
            "twospf.example",
            "FAIL  spf: 2 v=spf1 records at twospf.example: receivers treat that as a permanent "
            "error (RFC 7208 §4.5); merge them into one",
        ),
        (
            "soft.example",
            'warn  spf: "v=spf1 mx ~all": soft fail: other hosts are only marked; use -all once '
            "every relay is in",
        ),
        (
            "plusall.example",
            'FAIL  spf: "v=spf1 +all": every host on the internet may send as this domain; '
            "use -all",
        ),
        (
            "neutral.example",
            'warn  spf: "v=spf1 a mx ?all": neutral: says nothing about other hosts; use -all',
        ),
        (
            "noall.example",
            'warn  spf: "v=spf1 mx": no `all`: other hosts are neutral; end it with -all',
        ),
        (
            "redirect.example",
            'ok    spf: "v=spf1 ip4:192.0.2.0/24 -all" (via redirect to _spf.good.example): '
            "strict: mail from other hosts fails",
        ),
    ],
)
def test_spf_says_what_it_does_with_other_hosts(
    domain: str,
    expected: str,
    doctor_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    report = doctor({**doctor_env, "DIGEST_FROM": f"P <digest@{domain}>"}, monkeypatch, tmp_path)
    assert report.line("spf") == expected


def test_soft_fail_spf_only_warns(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = doctor({**doctor_env, "DIGEST_FROM": "P <digest@soft.example>"}, monkeypatch, tmp_path)
    assert report.line("spf").startswith("warn  spf:")
    assert report.exit_code == 0, report.lines


def test_dmarc_falls_back_to_the_organisational_domain_and_checks_strict_alignment(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        **doctor_env,
        "DIGEST_FROM": "P <digest@news.strict.example>",
        "DIGEST_DKIM_DOMAIN": "strict.example",
    }
    report = doctor(env, monkeypatch, tmp_path)
    assert report.line("from domain").startswith("ok    from domain:")  # relaxed holds
    assert report.line("dmarc") == (
        "FAIL  dmarc: p=reject at _dmarc.strict.example; DKIM d=strict.example does not align "
        "with news.strict.example under adkim=s (strict): DMARC then rests on SPF alone"
    )
    assert (report.exit_code, report.error) == (1, "doctor: 1 check failed")


def test_missing_records_each_say_what_is_missing(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = doctor(
        {**doctor_env, "DIGEST_FROM": "P <digest@missing.example>"}, monkeypatch, tmp_path
    )
    assert report.lines[-4:] == [
        "FAIL  dkim record: no DKIM record: s1._domainkey.missing.example does not exist "
        "(NXDOMAIN) (see dkim key for what to publish)",
        "FAIL  spf: no SPF record: missing.example has no TXT record",
        "FAIL  dmarc: no v=DMARC1 record at _dmarc.missing.example",
        "warn  bounce mx: missing.example has no MX; mail falls back to its address 192.0.2.10 "
        "(RFC 5321 §5.1): publish an MX",
    ]
    assert (report.exit_code, report.error) == (1, "doctor: 3 checks failed")


def test_a_domain_that_does_not_exist_and_a_null_mx(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nowhere = doctor(
        {**doctor_env, "DIGEST_FROM": "P <digest@nowhere.example>"}, monkeypatch, tmp_path
    )
    assert (
        nowhere.line("spf") == "FAIL  spf: no SPF record: nowhere.example does not exist (NXDOMAIN)"
    )
    assert nowhere.line("bounce mx") == (
        "FAIL  bounce mx: nowhere.example does not exist (NXDOMAIN): bounces to it are lost"
    )
    # Bounces go to DIGEST_RETURN_PATH's domain when it is set.
    nullmx = doctor(
        {**doctor_env, "DIGEST_RETURN_PATH": "bounces@nullmx.example"}, monkeypatch, tmp_path
    )
    assert nullmx.line("bounce mx") == (
        "FAIL  bounce mx: nullmx.example has a null MX (RFC 7505): bounces are refused"
    )
    assert (nullmx.exit_code, nullmx.error) == (1, "doctor: 1 check failed")


def test_servfail_is_one_line_per_check(
    doctor_env: dict[str, str], dns: Dns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = doctor(
        {**doctor_env, "DIGEST_FROM": "P <digest@servfail.example>"}, monkeypatch, tmp_path
    )
    assert report.line("dkim record") == (
        f"FAIL  dkim record: {dns.resolver} answered SERVFAIL (TXT s1._domainkey.servfail.example)"
    )
    assert report.line("bounce mx") == (
        f"FAIL  bounce mx: {dns.resolver} answered SERVFAIL (MX servfail.example)"
    )
    assert report.error == "doctor: 4 checks failed"


def test_a_silent_resolver_fails_once_and_quickly_in_a_real_process(
    doctor_env: dict[str, str], tmp_path: Path
) -> None:
    with silent_resolver() as port:
        started = time.monotonic()
        result = run(
            ["doctor"], {**doctor_env, "DIGEST_DNS_RESOLVER": f"127.0.0.1:{port}"}, tmp_path
        )
        elapsed = time.monotonic() - started
    lines = result.stdout.splitlines()
    assert lines[-4] == (
        f"FAIL  dkim record: 127.0.0.1:{port} did not answer within 3 s "
        "(TXT s1._domainkey.good.example)"
    )
    assert lines[-3:] == [
        f"skip  {name}: not asked: 127.0.0.1:{port} did not answer an earlier lookup"
        for name in ("spf", "dmarc", "bounce mx")
    ]
    assert result.returncode == 1
    assert result.stderr == "digest: doctor: 1 check failed\n"
    assert elapsed < 15  # 3 s of waiting, plus starting Python


def test_an_ipv6_resolver_and_a_bad_setting(
    doctor_env: dict[str, str], dns: Dns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with serve_zone(dns.zone, "::1") as port:
        v6 = doctor({**doctor_env, "DIGEST_DNS_RESOLVER": f"[::1]:{port}"}, monkeypatch, tmp_path)
    assert v6.line("dns resolver") == f"ok    dns resolver: asking [::1]:{port}"
    assert v6.exit_code == 0, v6.lines
    bad = doctor({**doctor_env, "DIGEST_DNS_RESOLVER": "127.0.0.1:dns"}, monkeypatch, tmp_path)
    assert bad.lines[-1] == (
        "FAIL  dns resolver: DIGEST_DNS_RESOLVER must be host or host:port (IPv6 as [::1]:53), "
        "got '127.0.0.1:dns'"
    )
    assert bad.exit_code == 1


def test_no_dns_skips_every_lookup(
    doctor_env: dict[str, str], dns: Dns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = len(dns.zone.queries)
    report = doctor(doctor_env, monkeypatch, tmp_path, "--no-dns")
    assert report.lines[-1] == "skip  dns: not checked (--no-dns)"
    assert report.exit_code == 0
    assert len(dns.zone.queries) == asked
