"""Every email kind as the real pipeline sends it with production-like settings, caught as
the bytes a real SMTP server (aiosmtpd) received.

Shared by the deliverability tests and `bench.deliverability`: an https base URL, a From
on that domain, DKIM signing, a VERP return path, an unsubscribe mailbox, a postal address
and a contact; papers as long as real ones (long titles, full abstracts, many authors,
every link) ingested from a Hugging Face-shaped file; digests at 1, 10 and the most papers
a subscriber can choose, the confirmation, "already subscribed" and every other declared
kind (the weekly reminder lists papers of the digests' pool that its reader was not sent).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from digest.pipeline.emails import ALREADY_SUBSCRIBED_EMAIL, CONFIRMATION_EMAIL
from digest.pipeline.fetch import build_source, fetch_and_store
from digest.pipeline.kinds import KINDS
from digest.pipeline.notices import queue_notice, send_outbox
from digest.pipeline.plan import send_due_now
from digest.preferences import MAX_EDITION_SIZE
from digest.settings import Settings
from digest.sources.http import polite_http
from digest.store.db import Database
from digest.store.models import Base
from digest.store.subscribers import add_subscriber, request_subscription
from tests.sources.support import Answer, local_server

DOMAIN = "papers.example.org"
BASE_URL = f"https://{DOMAIN}"
FROM = f"Trending Papers <digest@{DOMAIN}>"
RETURN_PATH = f"bounces@{DOMAIN}"
UNSUBSCRIBE_MAILBOX = f"unsubscribe@{DOMAIN}"
CONTACT = f"help@{DOMAIN}"
POSTAL_ADDRESS = "Trending Papers, Example Street 1, 10115 Berlin, Germany"
DKIM_SELECTOR = "mail2026"
SECRET = "deliverability-secret-key-0123456789-abcdefghijklmnop"
DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PAPERS_IN_POOL = MAX_EDITION_SIZE + 10
DIGEST_SIZES = (1, 10, MAX_EDITION_SIZE)
TOPICS = "language models, diffusion, robotics, reinforcement learning"


@dataclass(frozen=True)
class Caught:
    """One message as the SMTP server received it: envelope and the bytes of DATA."""

    kind: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        """The decoded text/<subtype> alternative."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_type() == f"text/{subtype}", self.kind
        content = body.get_content()
        assert isinstance(content, str)
        return content

    def html_bytes(self) -> bytes:
        """The HTML part as a client gets it after decoding the transfer encoding."""
        body = self.message.get_body(preferencelist=("html",))
        assert body is not None
        payload = body.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload


@dataclass
class WireCatcher:
    """An aiosmtpd handler keeping each message's envelope and raw DATA bytes."""

    received: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                (envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        return "250 OK"

    def take(self) -> list[tuple[str, tuple[str, ...], bytes]]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


@contextmanager
def smtp_server(port: int) -> Iterator[WireCatcher]:
    catcher = WireCatcher()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield catcher
    finally:
        controller.stop()


def production_settings(folder: Path, smtp_port: int, dkim_pem: bytes) -> Settings:
    """Settings as an operator sets them for production (DKIM key written to `folder`)."""
    key = folder / "dkim.pem"
    key.write_bytes(dkim_pem)
    return Settings(
        env="production",
        database_url=f"sqlite:///{folder / 'digest.db'}",
        mail_url=f"smtp://127.0.0.1:{smtp_port}",
        secret_key=SECRET,
        base_url=BASE_URL,
        DIGEST_FROM=FROM,
        contact=CONTACT,
        postal_address=POSTAL_ADDRESS,
        unsubscribe_mailbox=UNSUBSCRIBE_MAILBOX,
        return_path=RETURN_PATH,
        dkim_key_file=key,
        dkim_selector=DKIM_SELECTOR,
        hf_api_url="http://hf.invalid",
        embedding_model="off",
        missed_papers_reminder=True,  # ranking order does not change what an email is made of
        send_journal=folder / "journal.jsonl",
    )


# Words for papers that read like real ones; combined deterministically, so every title
# and abstract differs (the ranking would fold near-duplicates into one).
_SUBJECTS = [
    "Sparse Mixture-of-Experts Language Models", "Diffusion Policies for Dexterous Manipulation",
    "Long-Context Retrieval in Transformers", "Reinforcement Learning from Human Feedback",
    "Vision-Language Pretraining at Scale", "Speculative Decoding for Large Models",
    "Graph Neural Networks for Molecular Property Prediction", "Test-Time Compute Scaling",
    "Multilingual Speech Recognition", "Neural Radiance Fields for Dynamic Scenes",
    "Program Synthesis with Verifier Feedback", "Quantization-Aware Training of LLMs",
]  # fmt: skip
_CLAIMS = [
    "Are Mostly Redundant: Pruning Half the Parameters Without Losing Accuracy",
    "Need Less Data Than You Think: A Scaling Study Across 40 Benchmarks",
    "Generalise Out of Distribution When Trained With Curriculum Sampling",
    "Fail Silently on Long Inputs, and How to Detect It Before Deployment",
    "Become Robust to Distribution Shift With Simple Test-Time Adaptation",
]
_METHODS = [
    "a learned router", "contrastive pretraining", "a verifier-guided search",
    "low-rank adapters", "a curriculum over task difficulty", "synthetic preference data",
    "a hierarchical planner", "chunked attention with a recurrent memory",
]  # fmt: skip
_NAMES = [
    "Mira Okafor", "Tobias Lindqvist", "Ana Beltrán", "Hyun-woo Park", "Leila Haddad",
    "Rahul Venkataraman", "Sofia Karamanlis", "Chen Wei", "Aoife Ní Bhriain", "Jonas Weber",
    "Fatima Zahra El Amrani", "Kenji Takahashi", "Olusegun Adeyemi", "Marta Kowalczyk",
    "Diego Hernández-Ruiz", "Priya Raghunathan", "Lucas Moreau", "Ingrid Solberg",
]  # fmt: skip
_KEYWORDS = [
    "mixture of experts", "diffusion models", "long context", "RLHF", "vision-language",
    "speculative decoding", "graph neural networks", "test-time compute", "speech",
    "NeRF", "program synthesis", "quantization", "robotics", "evaluation", "efficiency",
]  # fmt: skip
_ORGANISATIONS = [
    ("okafor-lab", "Okafor Lab, University of Example"), ("nlp-group", "Example NLP Group"),
    ("robot-institute", "Institute for Example Robotics"),
]  # fmt: skip


_SENTENCES = [
    "Recent work on {subject} reports steady gains, yet it is unclear which choices matter "
    "once {model} is trained at scale.",
    "We revisit the question with {method}, which {model} gains without retraining.",
    "Across {n1} tasks of {data}, {model} matches strong baselines using {n2}% less compute.",
    "Most of the improvement comes from a few components of {model}; {other} adds little.",
    "Errors of {model} concentrate on inputs longer than those in {data}.",
    "A targeted augmentation of {data} closes {n3}% of the remaining gap.",
    "The gains of {model} persist after instruction tuning and preference optimisation.",
    "Ablations of {model} from 125M to {n4}B parameters show the benefit growing with scale.",
    "We release {model}, {data} and an evaluation harness for every number reported.",
    "Training {model} costs an extra stage, and its smallest sizes are sensitive to rates.",
    "An analysis explains why {method} lowers the variance of {model}.",
    "On a held-out split of {data} collected later, {model} drops only {n5} points.",
    "Raters prefer {model} in {n6}% of pairwise comparisons on {data}.",
    "Two negative results on {data} contradict earlier reports on {subject}.",
    "{model} answers in under {n5}0 milliseconds on one consumer GPU.",
    "{model} composes with quantization, pruning and speculative decoding.",
    "With {other}, {model} silently loses calibration on {data}.",
    "In {n7} languages of {data}, {model} helps low-resource ones most.",
    "A diagnostic on {data} predicts, before training, whether {method} will help.",
    "Saturation of {data} hides real differences between {model} and its rivals.",
]
_STEMS = ["Kestrel", "Marten", "Osprey", "Heron", "Lynx", "Puffin", "Vole", "Wren"]
_ENDINGS = ["LM", "Net", "Former", "Planner", "Coder", "Vision", "Speech", "Mind"]
_ABSTRACT_LENGTH = 1500  # characters: a long arXiv abstract (their limit is 1,920)


def _abstract(number: int) -> str:
    """A long abstract, about a model and a data set of its own (the ranking folds papers
    that read alike into one)."""
    name = f"{_STEMS[number % 8]}{_ENDINGS[number // 8 % 8]}"
    slots = {
        "subject": _SUBJECTS[number % len(_SUBJECTS)].lower(),
        "method": _METHODS[number % len(_METHODS)],
        "other": _METHODS[(number * 5 + 3) % len(_METHODS)],
        "model": f"{name}-{number}",
        "data": f"{name}Bench-{number}",
        **{f"n{i}": str(7 + (number * i * 13) % 83) for i in range(1, 8)},
    }
    sentences: list[str] = []
    step = (1, 3, 7, 9, 11, 13, 17, 19)[number % 8]  # coprime with 20: no sentence twice
    position = number % len(_SENTENCES)
    while sum(len(s) + 1 for s in sentences) < _ABSTRACT_LENGTH:
        sentences.append(_SENTENCES[position].format(**slots))
        position = (position + step) % len(_SENTENCES)
    return " ".join(sentences)


def paper_item(number: int) -> dict[str, Any]:
    """One item in the shape of Hugging Face's daily papers API, every field filled."""
    arxiv_id = f"2611.{20000 + number:05d}"
    subject = _SUBJECTS[number % len(_SUBJECTS)]
    claim = _CLAIMS[(number // len(_SUBJECTS)) % len(_CLAIMS)]
    title = f"{subject} {claim}"
    authors = [
        {"name": _NAMES[(number + step * 7) % len(_NAMES)], "hidden": False}
        for step in range(6 + number % 11)
    ]
    org_name, org_fullname = _ORGANISATIONS[number % len(_ORGANISATIONS)]
    keywords = [_KEYWORDS[(number + step * 4) % len(_KEYWORDS)] for step in range(6)]
    published = f"{(DAY - timedelta(days=1 + number % 3)).isoformat()}T18:00:00.000Z"
    return {
        "paper": {
            "id": arxiv_id,
            "authors": authors,
            "publishedAt": published,
            "submittedOnDailyAt": f"{DAY.isoformat()}T00:00:00.000Z",
            "title": title,
            "summary": _abstract(number),
            "upvotes": 400 - number * 5,
            "ai_summary": (
                f"{subject} improve with {_METHODS[number % len(_METHODS)]}, matching strong "
                f"baselines at lower inference cost and with gains that grow with scale."
            ),
            "ai_keywords": keywords,
            "githubRepo": f"https://github.com/{org_name}/study-{number}",
            "githubStars": 3000 - number * 37,
            "projectPage": f"https://{org_name}.github.io/study-{number}/",
            "organization": {"name": org_name, "fullname": org_fullname},
        },
        "publishedAt": published,
        "title": title,
        "numComments": 3 + number % 40,
    }


def hf_papers(count: int = PAPERS_IN_POOL) -> bytes:
    """A day of the daily papers API (one page: it holds fewer than a page's 100 items)."""
    return json.dumps([paper_item(n) for n in range(1, count + 1)]).encode()


def fetch_papers(db: Database, settings: Settings) -> None:
    """Fetch the day from a local stand-in for the Hugging Face API, as the worker does."""
    with local_server(Answer(body=hf_papers())) as api:
        local = settings.model_copy(update={"hf_api_url": api.url})
        http = polite_http(local.sources)
        try:
            fetch_and_store(db, build_source("hf", local, http, db), DAY, NOW - timedelta(hours=3))
        finally:
            http.client.close()


def _address(kind: str) -> str:
    return f"{kind.replace('_', '-')}.reader@example.net"


def _send_notices(db: Database, settings: Settings, catcher: WireCatcher) -> dict[str, Caught]:
    """The subscribe form's two answers, through the outbox, and every other kind."""
    caught: dict[str, Caught] = {}

    def take(kind: str) -> None:
        sent = send_outbox(db, settings, NOW)
        assert [name for name, _ in sent.sent] == [kind], (kind, sent)
        [(mail_from, rcpts, data)] = catcher.take()
        caught[kind] = Caught(kind, mail_from, rcpts, data)

    with db.session() as session:  # a new address asks through the form
        request_subscription(session, _address(CONFIRMATION_EMAIL), topics=TOPICS, now=NOW)
    take(CONFIRMATION_EMAIL)
    active = _address(ALREADY_SUBSCRIBED_EMAIL)
    with db.session() as session:  # a subscriber who forgot asks again
        add_subscriber(session, active, confirmed=True, now=NOW - timedelta(days=30))
        request_subscription(session, active, now=NOW)
    take(ALREADY_SUBSCRIBED_EMAIL)
    for name, kind in sorted(KINDS.items()):
        if name in caught:
            continue
        with db.session() as session:
            row = add_subscriber(session, _address(name), confirmed=True, topics=TOPICS, now=NOW)
            row.state = sorted(kind.for_states)[0]
            subscriber_id = row.id
        queue_notice(db, name, subscriber_id, NOW)
        take(name)
    return caught


def _send_digests(db: Database, settings: Settings, catcher: WireCatcher) -> dict[str, Caught]:
    fetch_papers(db, settings)
    readers: dict[str, int] = {}
    with db.session() as session:
        for size in DIGEST_SIZES:
            email = f"digest-{size}.reader@example.net"
            row = add_subscriber(
                session, email, confirmed=True, topics=TOPICS, now=NOW - timedelta(days=30)
            )
            row.edition_size = size
            readers[email] = size
    counts = send_due_now(db, settings, NOW, edition=DAY)
    assert counts.sent == len(DIGEST_SIZES), counts
    caught: dict[str, Caught] = {}
    for mail_from, rcpts, data in catcher.take():
        kind = f"digest-{readers[rcpts[0]]}"
        caught[kind] = Caught(kind, mail_from, rcpts, data)
    return dict(sorted(caught.items(), key=lambda item: int(item[0].split("-")[1])))


def send_every_kind(folder: Path, smtp_port: int, dkim_pem: bytes) -> dict[str, Caught]:
    """Send every email kind once through the real pipeline; what the server received, by
    kind (`digest-1`, `digest-10`, `digest-50`, then each notice kind by name)."""
    settings = production_settings(folder, smtp_port, dkim_pem)
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    try:
        with smtp_server(smtp_port) as catcher:
            digests = _send_digests(db, settings, catcher)
            notices = _send_notices(db, settings, catcher)
    finally:
        db.dispose()
    return {**digests, **notices}
