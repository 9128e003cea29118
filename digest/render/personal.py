"""Placeholders that survive CSS inlining, and the templates that fill them per subscriber."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping


class Placeholders:
    """Names like `ph_3f9a…_unsubscribe_` standing in for per-subscriber values.

    Letters, digits and underscores only, so neither Jinja's escaping nor lxml's URL
    escaping alters them; the random part means no paper title can forge one.
    """

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.pattern = re.compile(rf"ph_{self.nonce}_([a-z]+)_")

    def __getitem__(self, key: str) -> str:
        if not key.isalpha() or not key.islower():
            raise ValueError(f"placeholder keys are lowercase letters: {key!r}")
        return f"ph_{self.nonce}_{key}_"

    def marker(self, label: str) -> str:
        """An HTML comment that survives inlining; used to cut fragments back out."""
        return f"<!--cut_{self.nonce}_{label}-->"

    def compile(self, text: str) -> PersonalTemplate:
        return PersonalTemplate(self.pattern.split(text))


class PersonalTemplate:
    """Literal text with holes, filled by joining: far cheaper than any template engine."""

    __slots__ = ("keys", "literals")

    def __init__(self, pieces: list[str]) -> None:
        self.literals = pieces[0::2]
        self.keys = pieces[1::2]

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with every placeholder replaced; values must already be escaped."""
        out = [self.literals[0]]
        for key, literal in zip(self.keys, self.literals[1:], strict=True):
            out.append(values[key])
            out.append(literal)
        return "".join(out)
