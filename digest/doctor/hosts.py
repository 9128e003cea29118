"""Whether a host name is one readers and receiving mail servers can look up: a fully
qualified domain name, not localhost, an IP address, a bare host or a name reserved for
private networks."""

from __future__ import annotations

import ipaddress
import re

# RFC 1035 / 1123 labels (after IDNA): letters, digits and inner hyphens, 63 at most.
LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Top-level names that never resolve on the internet: RFC 6761 (test, invalid, localhost),
# RFC 2606 (example), RFC 6762 (local), RFC 8375 (home.arpa), ICANN's private-use
# `internal`, and `localdomain`, what many systems call themselves.
PRIVATE_SUFFIXES = ("local", "localdomain", "internal", "home.arpa", "test", "invalid", "example")


def host_problem(host: str) -> str | None:
    """Why `host` is not a public fully qualified domain name ("… is …"), or None if it is."""
    name = host.strip().lower().rstrip(".")
    shown = name or repr(host)
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback:
            return f"{shown} is a loopback address, this machine"
        return f"{shown} is an IP address, not a domain name"
    if name == "localhost" or name.endswith(".localhost"):
        return f"{shown} is this machine"
    if "." not in name:
        return f"{shown} is a bare host name, not a fully qualified domain name"
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return f"{shown} is not a valid domain name"
    labels = ascii_name.split(".")
    if not all(LABEL.fullmatch(label) for label in labels) or len(ascii_name) > 253:
        return f"{shown} is not a valid domain name"
    if labels[-1].isdigit():
        return f"{shown} ends in a number, not a top-level domain"
    for suffix in PRIVATE_SUFFIXES:
        if ascii_name.endswith(f".{suffix}"):
            return f"{shown} ends in .{suffix}, which never resolves on the internet"
    return None
