"""Edition entries and message parsing shared by the render tests."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from typing import Any

from digest.rank.entries import EditionEntry


def make_entry(rank: int, **overrides: Any) -> EditionEntry:
    """A plausible ranked paper; override any field."""
    arxiv_id = f"2411.{10000 + rank}"
    fields: dict[str, Any] = {
        "rank": rank,
        "score": 100.0 - rank,
        "arxiv_id": arxiv_id,
        "title": f"Paper ranked {rank}: sparse attention at scale",
        "abstract": "We present a method for trending things. " * 20,
        "url": f"https://huggingface.co/papers/{arxiv_id}",
        "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
        "pdf_url": f"https://arxiv.org/pdf/{arxiv_id}",
        "code_url": f"https://github.com/example/paper-{rank}",
        "project_url": f"https://example.org/projects/{rank}",
        "upvotes": 212,
        "comments": 14,
        "stars": 1234,
    }
    fields.update(overrides)
    return EditionEntry(**fields)


def parse(message: EmailMessage) -> EmailMessage:
    """Serialise as it goes over SMTP and parse back strictly (any defect raises)."""
    parsed = email.message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.strict)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part_text(message: EmailMessage, subtype: str) -> str:
    """The decoded text of the text/<subtype> alternative, with \\n line ends."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
