"""Text features shared by papers and subscriber profiles: words, bigrams, categories, authors.

Papers and what a subscriber follows are mapped into one sparse tf-idf space, so relevance
is a cosine and a whole edition is scored with one sparse matrix product.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from digest.papers import PaperText

TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9+\-]*[a-z0-9+])?")
CATEGORY_PREFIX = "cat:"
AUTHOR_PREFIX = "author:"
TITLE_REPEAT = 2  # a word in the title says more about a paper than one in its abstract


@dataclass(frozen=True)
class Follows:
    """What a subscriber asked to follow."""

    topics: Sequence[str] = field(default_factory=tuple)
    categories: Sequence[str] = field(default_factory=tuple)
    authors: Sequence[str] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not (self.topics or self.categories or self.authors)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(token: str) -> str:
    # Just enough to make "models" meet "model"; a real stemmer buys little on titles.
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def words(text: str) -> list[str]:
    """Lower-cased, accent-folded, lightly stemmed tokens without English stop words."""
    return [_stem(token) for token in TOKEN.findall(_fold(text)) if token not in ENGLISH_STOP_WORDS]


def _with_bigrams(tokens: list[str]) -> list[str]:
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def category_feature(category: str) -> str:
    return CATEGORY_PREFIX + category.strip().lower()


def author_feature(name: str) -> str:
    return AUTHOR_PREFIX + " ".join(_fold(name).replace(".", " ").split())


def paper_features(paper: PaperText) -> list[str]:
    """The features of one paper (the analyzer of the paper vectorizer)."""
    features: list[str] = []
    for _ in range(TITLE_REPEAT):
        features += _with_bigrams(words(paper.title))
    features += _with_bigrams(words(paper.abstract))
    for keyword in paper.keywords:
        features += _with_bigrams(words(keyword))
    features += [category_feature(c) for c in paper.categories if c.strip()]
    features += [author_feature(a) for a in paper.authors if a.strip()]
    return features


def topic_features(topic: str) -> list[str]:
    return _with_bigrams(words(topic))


def follow_features(follows: Follows) -> list[str]:
    """The features of what a subscriber follows, in the same space as papers."""
    features: list[str] = []
    for topic in follows.topics:
        features += topic_features(topic)
    features += [category_feature(c) for c in follows.categories if c.strip()]
    features += [author_feature(a) for a in follows.authors if a.strip()]
    return features


def features_of(item: PaperText | Follows) -> list[str]:
    """One analyzer for both kinds of document, so they share a vocabulary."""
    return follow_features(item) if isinstance(item, Follows) else paper_features(item)


def matched_follows(follows: Follows, paper_feature_set: Iterable[str]) -> list[str]:
    """Human names of the follows this paper matches, in the subscriber's order."""
    present = set(paper_feature_set)
    matches: list[str] = []
    for topic in follows.topics:
        tokens = words(topic)
        if tokens and all(token in present for token in tokens):
            matches.append(f"'{topic}'")
    matches += [c for c in follows.categories if category_feature(c) in present]
    matches += [a for a in follows.authors if author_feature(a) in present]
    return matches
