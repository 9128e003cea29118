"""A real DNS server in the test process (dnslib, UDP and TCP on one loopback port)."""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSHeader, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

UDP_LIMIT = 512  # bytes: a DNS answer over UDP without EDNS (RFC 1035 §4.2.1)


@dataclass
class Zone(BaseResolver):  # type: ignore[misc]
    """Records by (name, type); names it holds nothing under answer NXDOMAIN."""

    records: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    servfail: set[str] = field(default_factory=set)  # these names and everything below them
    queries: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, protocol)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, rtype: str, *rdata: Any) -> None:
        self.records[(name.lower(), rtype)].extend(rdata)

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        rtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((name, rtype, handler.protocol))
        if any(name == bad or name.endswith(f".{bad}") for bad in self.servfail):
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if not any(owner == name or owner.endswith(f".{name}") for owner, _ in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rdata in self.records.get((name, rtype), []):
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
        return reply


class ClassicUdpHandler(DNSHandler):  # type: ignore[misc]
    """Truncates UDP answers over 512 bytes, as a server must for a client without EDNS:
    long TXT answers then come over TCP. (dnslib's own truncation drops the question,
    which dnspython rightly refuses as an answer to something else.)"""

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed: bytes = reply.pack()
        if self.protocol == "udp" and len(packed) > UDP_LIMIT:
            header = DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1)
            packed = DNSRecord(header, q=reply.q).pack()
        return packed


def _quiet_logger() -> Any:
    return DNSLogger(prefix=False, logf=lambda _: None)


PORT_ATTEMPTS = 20


@contextmanager
def serve_zone(zone: Zone, host: str = "127.0.0.1") -> Iterator[int]:
    """Serve `zone` on UDP and TCP at `host` and one free port; yields the port."""
    # The port is free for UDP; it may not be for TCP (an outgoing connection's port, say):
    # then another one is tried.
    for attempt in range(PORT_ATTEMPTS):
        udp = DNSServer(zone, host, 0, logger=_quiet_logger(), handler=ClassicUdpHandler)
        port = int(udp.server.server_address[1])
        try:
            tcp = DNSServer(
                zone, host, port, tcp=True, logger=_quiet_logger(), handler=ClassicUdpHandler
            )
            break
        except OSError:
            udp.server.server_close()
            if attempt == PORT_ATTEMPTS - 1:
                raise
    udp.start_thread()
    tcp.start_thread()
    try:
        yield port
    finally:
        for server in (udp, tcp):
            server.stop()
            server.server.server_close()


@contextmanager
def silent_resolver() -> Iterator[int]:
    """A UDP port that takes queries and never answers; yields the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
