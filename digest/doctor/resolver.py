"""DNS lookups for the doctor: one resolver, a short timeout, one-line errors."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TXT import TXT

from digest.errors import ConfigError

DNS_TIMEOUT_SECONDS = 3.0
DNS_PORT = 53


class DnsProblem(Exception):
    """A lookup gave no usable answer; the message is one line for the operator."""


class NoRecord(DnsProblem):
    """The resolver answered: the name does not exist, or has no record of that type."""

    def __init__(self, message: str, *, nxdomain: bool) -> None:
        super().__init__(message)
        self.nxdomain = nxdomain


class DnsUnavailable(DnsProblem):
    """No answer could be had: timeout, SERVFAIL, refusal, an unreachable resolver.

    `repeated` marks a lookup not even tried because the resolver was silent before."""

    def __init__(self, message: str, *, repeated: bool = False) -> None:
        super().__init__(message)
        self.repeated = repeated


@dataclass(frozen=True)
class ResolverAddress:
    host: str  # an IP literal
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DNS_PORT else f"{host}:{self.port}"


def parse_resolver(value: str) -> ResolverAddress:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 literal; a host name is looked up."""
    text = value.strip()
    port_text: str | None = None
    if text.startswith("["):
        host, bracket, tail = text[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise _bad_resolver(value)
        port_text = tail[1:] if tail else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host = text  # a bare IPv6 literal has several colons and no port
    port = DNS_PORT
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _bad_resolver(value)
        port = int(port_text)
    if not host:
        raise _bad_resolver(value)
    return ResolverAddress(_ip_literal(host, value), port)


def _ip_literal(host: str, value: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if ":" in host:
        raise _bad_resolver(value)
    try:
        found = socket.getaddrinfo(host, DNS_PORT, proto=socket.IPPROTO_UDP)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"DIGEST_DNS_RESOLVER host {host!r} cannot be resolved: {exc}") from None
    return str(found[0][4][0])


def _bad_resolver(value: str) -> ConfigError:
    return ConfigError(
        f"DIGEST_DNS_RESOLVER must be host or host:port (IPv6 as [::1]:53), got {value!r}"
    )


class DnsLookup:
    """Asks one resolver; after it has once failed to answer in time, asks it no more."""

    def __init__(
        self, resolver: dns.resolver.Resolver, where: str, timeout: float = DNS_TIMEOUT_SECONDS
    ) -> None:
        resolver.timeout = timeout
        resolver.lifetime = timeout
        resolver.cache = None
        self.resolver = resolver
        self.where = where
        self.timeout = timeout
        self.silent = False

    @classmethod
    def from_setting(cls, value: str | None, timeout: float = DNS_TIMEOUT_SECONDS) -> DnsLookup:
        """DIGEST_DNS_RESOLVER's address, or the system's resolver when it is unset."""
        if value is None or not value.strip():
            try:
                system = dns.resolver.Resolver()
            except dns.exception.DNSException as exc:
                raise ConfigError(
                    f"no system resolver to ask ({exc}); set DIGEST_DNS_RESOLVER"
                ) from None
            servers = ", ".join(str(server) for server in system.nameservers)
            return cls(system, f"the system's resolver ({servers})", timeout)
        address = parse_resolver(value)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address.host]
        resolver.port = address.port
        return cls(resolver, str(address), timeout)

    def txt(self, name: str) -> list[str]:
        """Each TXT record at `name`, its strings joined (a long record comes in pieces)."""
        answer = self._resolve(name, dns.rdatatype.TXT)
        return [
            b"".join(rdata.strings).decode("ascii", errors="replace")
            for rdata in answer
            if isinstance(rdata, TXT)
        ]

    def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, exchange) of each MX record, lowest preference first."""
        answer = self._resolve(name, dns.rdatatype.MX)
        records = [
            (int(rdata.preference), rdata.exchange.to_text(omit_final_dot=True) or ".")
            for rdata in answer
            if isinstance(rdata, MX)
        ]
        return sorted(records)

    def addresses(self, name: str) -> list[str]:
        """The A and AAAA addresses of `name` (NoRecord when it has neither)."""
        found: list[str] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                found += [rdata.to_text() for rdata in self._resolve(name, rdtype)]
            except NoRecord as exc:
                if exc.nxdomain:
                    raise
        if not found:
            raise NoRecord(f"{name} has no A or AAAA record", nxdomain=False)
        return found

    def _resolve(self, name: str, rdtype: dns.rdatatype.RdataType) -> dns.resolver.Answer:
        kind = dns.rdatatype.to_text(rdtype)
        if self.silent:
            raise DnsUnavailable(
                f"not asked: {self.where} did not answer an earlier lookup", repeated=True
            )
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise DnsProblem(f"{name!r} is not a DNS name: {exc}") from None
        try:
            return self.resolver.resolve(qname, rdtype, lifetime=self.timeout, search=False)
        except dns.resolver.NXDOMAIN:
            raise NoRecord(f"{name} does not exist (NXDOMAIN)", nxdomain=True) from None
        except dns.resolver.NoAnswer:
            raise NoRecord(f"{name} has no {kind} record", nxdomain=False) from None
        except dns.exception.Timeout:
            self.silent = True
            raise DnsUnavailable(
                f"{self.where} did not answer within {self.timeout:g} s ({kind} {name})"
            ) from None
        except dns.resolver.NoNameservers as exc:
            raise DnsUnavailable(f"{self.where} {_why_no_answer(exc)} ({kind} {name})") from None
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(f"{self.where} gave no answer ({kind} {name}): {exc}") from None


def _why_no_answer(exc: dns.resolver.NoNameservers) -> str:
    """SERVFAIL, REFUSED… when the resolver said so; else the socket's error."""
    errors: list[tuple[object, ...]] = exc.kwargs.get("errors") or []
    for error in errors:
        if len(error) > 3 and isinstance(error[3], str):
            return f"answered {error[3]}"
    for error in errors:
        if len(error) > 3 and isinstance(error[3], BaseException):
            return f"unreachable: {error[3] or type(error[3]).__name__}"
    return "gave no answer"
