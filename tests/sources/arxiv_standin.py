"""A stand-in for arXiv's query API on 127.0.0.1: `id_list` answered from the entries of
tests/payloads/arxiv_lookup.xml (only those asked for, as arXiv does); every request kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from tests.sources.support import Answer, LocalServer, local_server, payload

_ENTRY = re.compile(r"  <entry>.*?</entry>\n", re.DOTALL)
_ID = re.compile(r"<id>http://arxiv\.org/abs/([^<]+?)(?:v\d+)?</id>")


def _entries() -> tuple[str, str, dict[str, str]]:
    document = payload("arxiv_lookup.xml").decode()
    entries = {_ID.search(m.group(0)).group(1): m.group(0) for m in _ENTRY.finditer(document)}  # type: ignore[union-attr]
    head = document[: document.index("  <entry>")]
    return head, "</feed>\n", entries


@contextmanager
def arxiv_standin(status: int = 200) -> Iterator[LocalServer]:
    """The stand-in; with another `status`, every request is answered with it."""
    head, tail, entries = _entries()

    def route(path: str, headers: dict[str, str]) -> Answer:
        if status != 200:
            return Answer(status=status, body=b"busy", content_type="text/plain")
        asked = parse_qs(urlsplit(path).query).get("id_list", [""])[0].split(",")
        body = head + "".join(entries[i] for i in asked if i in entries) + tail
        return Answer(body=body.encode(), content_type="application/atom+xml")

    with local_server(route) as server:
        yield server


def asked_ids(server: LocalServer) -> list[list[str]]:
    """The ids of each request the stand-in answered, in order."""
    return [
        parse_qs(urlsplit(path).query).get("id_list", [""])[0].split(",")
        for path, _ in server.requests
    ]
