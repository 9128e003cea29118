"""Pool entries and message parsing shared by the render tests."""

from __future__ import annotations

import base64
import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.papers import EditionEntry
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.notices import render_subscriber_email
from digest.settings import EmailSettings, Settings


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


LONG_TITLES = [
    "Scaling Token-Adaptive Routing to Long-Context Multimodal Reasoning: A Study of Sparse "
    "Mixture-of-Experts Transformers",
    "Self-Improving Vision-Language Agents with Retrieval-Augmented Planning for Open-World "
    "Robotic Manipulation",
    "Beyond Next-Token Prediction: Diffusion Language Models Learn to Reason Through "
    "Iterative Refinement",
    "Efficient Inference for Large Reasoning Models via Speculative Decoding with Adaptive Drafts",
]
LONG_AUTHORS = [
    "Anna-Katharina Müller",
    "Jean-Baptiste Delacroix",
    "Xiaoming Zhang",
    "Priya Raghunathan",
    "Oluwaseun Adeyemi",
    "Sofía Hernández-García",
    "Tomasz Wiśniewski",
    "Hiroshi Tanaka",
]
LONG_ABSTRACT = (
    "Large language models have shown remarkable abilities across a wide range of tasks, yet "
    "their computational cost grows quadratically with the length of the context. We introduce "
    "a token-adaptive routing scheme that lets easy tokens skip most layers while hard tokens "
    "receive the full depth of the network, and show on twelve benchmarks that it matches dense "
    "models at a third of the compute. Code, weights and data are released. "
) * 3
LONG_SUMMARY = (
    "Token-adaptive routing lets easy tokens skip layers, so sparse mixture-of-experts models "
    "match dense ones on long-context multimodal benchmarks at a third of the compute."
)
LONG_KEYWORDS = [
    "mixture of experts",
    "token routing",
    "long-context reasoning",
    "vision-language models",
    "efficient inference",
    "sparse attention",
]


def long_entry(rank: int) -> EditionEntry:
    """A Hugging Face paper as long as the real ones run: a two-line title, eight authors
    with accents, an organisation on every other one, a machine summary, six keywords, a long
    abstract, every link; "why it's here" on every other one. (Hugging Face gives no arXiv
    categories; arXiv, which does, gives no summary, keywords or organisation.)"""
    arxiv_id = f"2511.{10000 + rank:05d}"
    return EditionEntry(
        rank=rank,
        score=100.0 - rank,
        arxiv_id=arxiv_id,
        title=LONG_TITLES[rank % len(LONG_TITLES)],
        abstract=LONG_ABSTRACT,
        url=f"https://huggingface.co/papers/{arxiv_id}",
        authors=LONG_AUTHORS,
        organisation="Max Planck Institute for Intelligent Systems" if rank % 2 else None,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v2",
        code_url=f"https://github.com/example-research-lab/token-adaptive-routing-{rank}",
        project_url=f"https://example-research-lab.github.io/adaptive-routing-{rank}/",
        upvotes=512 - rank,
        comments=48,
        stars=12_345 + rank,
        source="hf",
        why="" if rank % 2 else "You follow mixture of experts and efficient inference",
        summary=LONG_SUMMARY,
        keywords=LONG_KEYWORDS,
    )


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


@dataclass(frozen=True)
class SigningKey:
    """An RSA key for DKIM tests: the PEM to sign with and the DNS record to verify with."""

    pem: bytes
    record: bytes

    def write(self, folder: Path) -> Path:
        path = folder / "dkim.pem"
        path.write_bytes(self.pem)
        return path

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        """A stand-in for the DNS TXT lookup dkimpy makes."""
        return self.record


@lru_cache(maxsize=2)
def dkim_test_key(bits: int = 2048) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))


def signing_settings(settings: Settings, folder: Path, **overrides: Any) -> Settings:
    """`settings` with DKIM on (selector `s1`, the From domain), plus any overrides."""
    path = dkim_test_key().write(folder)
    return settings.model_copy(update={"dkim_key_file": path, "dkim_selector": "s1", **overrides})


def render_confirmation(settings: EmailSettings, *, subscriber_id: int, email: str) -> EmailMessage:
    """The double opt-in email as the subscribe form's kind renders it."""
    return render_subscriber_email(
        settings, CONFIRMATION_EMAIL, subscriber_id=subscriber_id, email=email
    )
