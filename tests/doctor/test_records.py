"""Reading DKIM, SPF and DMARC records, and the resolver setting, without DNS."""

from __future__ import annotations

import pytest

from digest.doctor.records import (
    RecordError,
    aligned,
    is_dmarc,
    is_spf,
    organisational_domain,
    parse_dkim_record,
    parse_dmarc,
    parse_spf,
)
from digest.doctor.resolver import ResolverAddress, parse_resolver
from digest.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ResolverAddress("127.0.0.1", 53)),
        (" 127.0.0.1:5353 ", ResolverAddress("127.0.0.1", 5353)),
        ("::1", ResolverAddress("::1", 53)),
        ("[::1]:5353", ResolverAddress("::1", 5353)),
        ("[2001:DB8::1]", ResolverAddress("2001:db8::1", 53)),
    ],
)
def test_resolver_forms(value: str, expected: ResolverAddress) -> None:
    assert parse_resolver(value) == expected


@pytest.mark.parametrize(
    "value", ["127.0.0.1:0", "127.0.0.1:70000", "[::1", "[::1]5353", ":53", "fe80::zz"]
)
def test_bad_resolver_settings_name_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_DNS_RESOLVER must be host or host:port"):
        parse_resolver(value)


def test_resolver_address_prints_as_it_is_written() -> None:
    assert str(ResolverAddress("::1", 5353)) == "[::1]:5353"
    assert str(ResolverAddress("192.0.2.53", 53)) == "192.0.2.53"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("v=DKIM1; k=dsa; p=AAAA", "k=dsa is neither rsa nor ed25519"),
        ("v=DKIM1; k=rsa", "it has no p= tag"),
        ("v=DKIM1; p=not base64!", "p= is not base64"),
        ("k=rsa; v=DKIM1; p=AAAA", "v=DKIM1 must come first"),
        ("v=DKIM1; p=AAAA; p=AAAA", "the tag p= appears twice"),
    ],
)
def test_invalid_dkim_records_say_why(text: str, reason: str) -> None:
    with pytest.raises(RecordError, match=reason):
        parse_dkim_record(text)


def test_a_dkim_record_in_any_spacing_and_flags() -> None:
    record = parse_dkim_record(
        "v=DKIM1 ;k=ed25519;  t=s:y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    )
    assert (record.key_type, len(record.public_key), record.testing) == ("ed25519", 32, True)
    assert parse_dkim_record("v=DKIM1; p=").public_key == b""


def test_spf_records_and_their_all() -> None:
    assert is_spf("v=spf1 -all") and is_spf("V=SPF1") and not is_spf("v=spf10 -all")
    assert parse_spf("v=spf1 mx -all ~all").all_qualifier == "-"  # the first `all` counts
    assert parse_spf("v=spf1 a all").all_qualifier == "+"
    assert parse_spf("v=spf1 redirect=_spf.example.net").redirect == "_spf.example.net"
    assert parse_spf("v=spf1 redirect=_spf.example.net ?all").redirect is None


def test_dmarc_records_and_alignment() -> None:
    assert is_dmarc("v=DMARC1;p=none") and not is_dmarc("p=none; v=DMARC1")
    record = parse_dmarc("v=DMARC1; p=Quarantine; sp=reject; adkim=s")
    assert (record.policy, record.subdomain_policy, record.adkim, record.aspf) == (
        "quarantine",
        "reject",
        "s",
        "r",
    )
    with pytest.raises(RecordError, match="p='block' is not none, quarantine or reject"):
        parse_dmarc("v=DMARC1; p=block")
    with pytest.raises(RecordError, match="adkim='x' is neither r nor s"):
        parse_dmarc("v=DMARC1; p=none; adkim=x")
    assert organisational_domain("news.mail.Example.org.") == "example.org"
    assert aligned("mail.example.org", "news.example.org", "r")
    assert not aligned("mail.example.org", "news.example.org", "s")
    assert not aligned("example.net", "example.org", "r")
