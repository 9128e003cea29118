"""Per-subscriber render time of DigestRenderer against premailer on every message.

    .venv/bin/python -m bench.render [--subscribers 2000] [--repeats 3]

In one run, for N subscribers who each get 10 papers drawn from a pool of 20 in their own
order, half of them with a "why it's here" line, it measures (best of --repeats):
- fast: a DigestRenderer built for the batch (its premailer pass included), `render` for
  everyone: personalised HTML + text + headers; then the same plus serialising to bytes;
- fast + DKIM: the same with a 2048-bit RSA key (signing serialises the message);
- premailer per message: the same messages, each page inlined by premailer on its own.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.papers import EditionEntry
from digest.render.renderer import DigestRenderer
from digest.settings import Settings

EDITION = date(2026, 11, 25)
POOL = 20
PER_READER = 10
WORDS = [
    "attention",
    "sparse",
    "scaling",
    "diffusion",
    "reasoning",
    "agents",
    "benchmark",
    "retrieval",
    "tokens",
]


def bench_settings() -> Settings:
    """The settings every rendering benchmark renders with."""
    return Settings(
        secret_key="bench-secret-key-0123456789-0123456789-abcdef",
        base_url="https://digest.example.org",
        DIGEST_FROM="Trending Papers <digest@example.org>",
        contact="ops@example.org",
        postal_address="Example Labs, 1 Long Street, Paris",
        unsubscribe_mailbox="unsubscribe@example.org",
    )


def paper_pool() -> list[EditionEntry]:
    """Papers shaped like real ones: long titles, many authors, 1,200-character abstracts."""
    pool = []
    for rank in range(1, POOL + 1):
        arxiv_id = f"2411.{10000 + rank}"
        title_words = [WORDS[(rank + i) % len(WORDS)] for i in range(10)]
        pool.append(
            EditionEntry(
                rank=rank,
                score=100.0 - rank,
                arxiv_id=arxiv_id,
                title=f"Über {' '.join(title_words).capitalize()}: a study {rank}",
                abstract=" ".join(WORDS[(rank * i) % len(WORDS)] for i in range(160)),
                url=f"https://huggingface.co/papers/{arxiv_id}",
                authors=[f"Author Number{i} Surname" for i in range(3 + rank % 9)],
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                code_url=f"https://github.com/example/paper-{rank}" if rank % 2 else None,
                project_url=f"https://example.org/projects/{rank}" if rank % 3 else None,
                upvotes=500 - rank * 7,
                comments=rank * 3,
                stars=rank * 321 if rank % 2 else None,
                categories=["cs.LG", "cs.CL"][: 1 + rank % 2],
            )
        )
    return pool


def reader_entries(pool: list[EditionEntry], subscriber_id: int) -> list[EditionEntry]:
    """This reader's ten papers, in their own order, some with a reason."""
    start = subscriber_id % (POOL - PER_READER + 1)
    chosen = pool[start : start + PER_READER]
    why = f"You follow cs.LG and liked paper #{subscriber_id % 7}" if subscriber_id % 2 else ""
    return [
        replace(entry, rank=(index * 7 + subscriber_id) % PER_READER + 1, why=why)
        for index, entry in enumerate(chosen)
    ]


def per_subscriber(
    settings: Settings, readers: list[list[EditionEntry]], work: Callable[..., object]
) -> float:
    """Seconds per subscriber, the renderer's construction included."""
    started = time.perf_counter()
    renderer = DigestRenderer(settings.email, EDITION)
    for subscriber_id, entries in enumerate(readers, start=1):
        work(renderer, subscriber_id, entries)
    return (time.perf_counter() - started) / len(readers)


def render_only(renderer: DigestRenderer, subscriber_id: int, entries: list[EditionEntry]) -> None:
    renderer.render(
        subscriber_id=subscriber_id, email=f"r{subscriber_id}@example.com", entries=entries
    )


def render_bytes(renderer: DigestRenderer, subscriber_id: int, entries: list[EditionEntry]) -> None:
    email = f"r{subscriber_id}@example.com"
    renderer.render(subscriber_id=subscriber_id, email=email, entries=entries).as_bytes()


def reference(renderer: DigestRenderer, subscriber_id: int, entries: list[EditionEntry]) -> None:
    email = f"r{subscriber_id}@example.com"
    renderer.render_reference(subscriber_id=subscriber_id, email=email, entries=entries)


def best(repeats: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pool = paper_pool()
    readers = [reader_entries(pool, i) for i in range(1, args.subscribers + 1)]
    slow_readers = readers[: max(20, args.subscribers // 20)]
    settings = bench_settings()
    with tempfile.TemporaryDirectory() as folder:
        key = Path(folder) / "dkim.pem"
        key.write_bytes(
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        signing = settings.model_copy(update={"dkim_key_file": key, "dkim_selector": "s1"})
        fast = best(args.repeats, lambda: per_subscriber(settings, readers, render_only))
        wire = best(args.repeats, lambda: per_subscriber(settings, readers, render_bytes))
        dkim_readers = readers[: max(50, args.subscribers // 4)]
        signed = best(args.repeats, lambda: per_subscriber(signing, dkim_readers, render_bytes))
        slow = best(args.repeats, lambda: per_subscriber(settings, slow_readers, reference))
    print(f"subscribers              {args.subscribers} ({PER_READER} papers each from {POOL})")
    print(f"fast, DKIM off           {fast * 1e3:7.3f} ms/subscriber (HTML + text + headers)")
    print(f"fast, DKIM off, bytes    {wire * 1e3:7.3f} ms/subscriber (+ serialised for SMTP)")
    print(f"fast, DKIM on, bytes     {signed * 1e3:7.3f} ms/subscriber (2048-bit RSA)")
    print(f"premailer per message    {slow * 1e3:7.3f} ms/subscriber")
    print(f"ratio                    {slow / fast:7.1f}x (premailer per message / fast)")


if __name__ == "__main__":
    main()
