"""Reading DKIM, SPF and DMARC TXT records: pure functions of the record text."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

from dkim.crypto import UnparsableKeyError, parse_pem_private_key, parse_public_key

from digest.render.dkim import DkimKey

DKIM_KEY_TYPES = ("rsa", "ed25519")
DMARC_POLICIES = ("none", "quarantine", "reject")
DMARC_VERSION = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)")


class RecordError(ValueError):
    """A TXT record of the right kind that does not say what its RFC requires."""


def parse_tags(text: str) -> dict[str, str]:
    """An RFC 6376 §3.2 tag list (`k=v; k=v`), as DKIM and DMARC records use."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise RecordError(f"{part.strip()!r} is not a tag=value pair")
        if name in tags:
            raise RecordError(f"the tag {name}= appears twice")
        tags[name] = value.strip()
    return tags


@dataclass(frozen=True)
class DkimRecord:
    key_type: str
    public_key: bytes  # empty: the key is revoked
    testing: bool  # t=y: verifiers may treat failures as unsigned


def looks_like_dkim(text: str) -> bool:
    """A TXT record meant as a DKIM key: starts with v=DKIM1 or carries a p= tag."""
    return bool(re.match(r"\s*v\s*=\s*DKIM1\b", text)) or bool(re.search(r"(^|;)\s*p\s*=", text))


def parse_dkim_record(text: str) -> DkimRecord:
    """The key a DKIM record publishes (RFC 6376 §3.6.1); RecordError says what is wrong."""
    tags = parse_tags(text)
    if "v" in tags and (next(iter(tags)) != "v" or tags["v"] != "DKIM1"):
        raise RecordError("v=DKIM1 must come first when v= is given")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in DKIM_KEY_TYPES:
        raise RecordError(f"k={key_type} is neither rsa nor ed25519")
    if "p" not in tags:
        raise RecordError("it has no p= tag")
    try:
        public_key = base64.b64decode("".join(tags["p"].split()), validate=True)
    except binascii.Error:
        raise RecordError("p= is not base64") from None
    testing = "y" in [flag.strip() for flag in tags.get("t", "").split(":")]
    return DkimRecord(key_type, public_key, testing)


def key_mismatch(record: DkimRecord, key: DkimKey) -> str | None:
    """None when the record publishes `key`'s public half; else how it differs."""
    if record.key_type != "rsa":
        return f"it publishes a k={record.key_type} key, DIGEST_DKIM_KEY_FILE holds an RSA key"
    try:
        published = parse_public_key(record.public_key)
    except (UnparsableKeyError, ValueError, IndexError, TypeError):
        return "its p= is not an RSA public key"
    private = parse_pem_private_key(key.pem)
    if (published["modulus"], published["publicExponent"]) == (
        private["modulus"],
        private["publicExponent"],
    ):
        return None
    bits = int(published["modulus"]).bit_length()
    return f"it publishes a different {bits}-bit key than DIGEST_DKIM_KEY_FILE"


def is_spf(text: str) -> bool:
    """RFC 7208 §4.5: a record is SPF when it is `v=spf1` alone or followed by a space."""
    lowered = text.strip().lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


@dataclass(frozen=True)
class SpfPolicy:
    all_qualifier: str | None  # "+", "-", "~", "?" of the first `all`; None without one
    redirect: str | None  # redirect= target, which RFC 7208 §6.1 ignores next to `all`


def parse_spf(text: str) -> SpfPolicy:
    """What the record says of every host it does not list."""
    qualifier: str | None = None
    redirect: str | None = None
    for term in text.split()[1:]:
        lowered = term.lower()
        if lowered.lstrip("+-~?") == "all" and len(lowered) <= 4:
            qualifier = lowered[0] if lowered[0] in "+-~?" else "+"
            break  # terms after `all` are never evaluated
        if lowered.startswith("redirect="):
            redirect = term.partition("=")[2].rstrip(".")
    return SpfPolicy(qualifier, None if qualifier else redirect)


def is_dmarc(text: str) -> bool:
    """RFC 7489 §6.6.3: a DMARC record starts with v=DMARC1."""
    return bool(DMARC_VERSION.match(text.strip()))


@dataclass(frozen=True)
class DmarcRecord:
    policy: str
    subdomain_policy: str | None
    adkim: Literal["r", "s"]
    aspf: Literal["r", "s"]


def parse_dmarc(text: str) -> DmarcRecord:
    """The policy and alignment modes of a DMARC record (RFC 7489 §6.3)."""
    tags = parse_tags(text)
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        raise RecordError(f"p={policy!r} is not none, quarantine or reject" if policy else "no p=")
    subdomain = tags.get("sp", "").lower() or None
    if subdomain is not None and subdomain not in DMARC_POLICIES:
        raise RecordError(f"sp={subdomain!r} is not none, quarantine or reject")
    return DmarcRecord(policy, subdomain, _mode(tags, "adkim"), _mode(tags, "aspf"))


def _mode(tags: dict[str, str], name: str) -> Literal["r", "s"]:
    value = tags.get(name, "r").lower()
    if value == "r":
        return "r"
    if value == "s":
        return "s"
    raise RecordError(f"{name}={value!r} is neither r nor s")


def organisational_domain(domain: str) -> str:
    """The last two labels: an approximation of RFC 7489's Public Suffix List rule that is
    wrong under suffixes such as co.uk."""
    return ".".join(domain.lower().rstrip(".").split(".")[-2:])


def aligned(identifier: str, from_domain: str, mode: Literal["r", "s"]) -> bool:
    """DMARC identifier alignment: the same name (strict) or organisational domain (relaxed)."""
    a, b = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if mode == "s":
        return a == b
    return organisational_domain(a) == organisational_domain(b)
