"""Text features shared by papers and subscriber profiles: words, bigrams, categories, authors.

Papers and what a subscriber follows are mapped into one sparse tf-idf space, so relevance
is a cosine and a whole edition is scored with one sparse matrix product.

A hyphenated phrase counts as its parts (so their word pair) and as one joined word:
`multi-agent` meets "multi agent" through the pair `multi agent` and "multiagent" through
`multiagent`. What a subscriber types is short, so it also gets the joined form of each
word pair and the phrases of the acronyms in ACRONYMS (`VLM` meets "vision-language
model"); papers spell those out themselves.
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

# Acronyms a reader types, as the words an abstract spells them out with (stop words drop
# out). Only their word pairs join a follow: "model" alone would match every paper.
ACRONYMS = {
    "llm": "large language model",
    "lm": "language model",
    "vlm": "vision-language model",
    "mllm": "multimodal large language model",
    "lmm": "large multimodal model",
    "vla": "vision-language-action model",
    "rl": "reinforcement learning",
    "rlhf": "reinforcement learning from human feedback",
    "rlvr": "reinforcement learning with verifiable rewards",
    "dpo": "direct preference optimization",
    "sft": "supervised fine-tuning",
    "cot": "chain of thought",
    "rag": "retrieval-augmented generation",
    "moe": "mixture of experts",
    "kd": "knowledge distillation",
    "vit": "vision transformer",
    "vqa": "visual question answering",
    "gnn": "graph neural network",
    "asr": "automatic speech recognition",
    "nlp": "natural language processing",
    "t2i": "text-to-image",
    "t2v": "text-to-video",
}
# Derived forms a reader types where abstracts use the root.
ALIASES = {"agentic": "agent"}


@dataclass(frozen=True)
class Follows:
    """What a subscriber asked to follow."""

    topics: Sequence[str] = field(default_factory=tuple)
    categories: Sequence[str] = field(default_factory=tuple)
    authors: Sequence[str] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not (self.topics or self.categories or self.authors)


def fold(text: str) -> str:
    """Lower case without accents."""
    if text.isascii():  # nothing to fold, and most text is: skip the character loop
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(token: str) -> str:
    # Just enough to make "models" meet "model"; a real stemmer buys little on titles.
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _content(tokens: Iterable[str]) -> list[str]:
    return [stem(token) for token in tokens if token and token not in ENGLISH_STOP_WORDS]


def words(text: str) -> list[str]:
    """Lower-cased, accent-folded, lightly stemmed tokens without English stop words.

    A hyphenated token gives its parts: `multi-agent` is `multi`, `agent`.
    """
    tokens: list[str] = []
    for token in TOKEN.findall(fold(text)):
        tokens += _content(token.split("-")) if "-" in token else _content([token])
    return tokens


def _joined(text: str) -> list[str]:
    """The joined form of each hyphenated phrase: `text-to-image` gives `texttoimage`."""
    return [
        stem(token.replace("-", ""))
        for token in TOKEN.findall(fold(text))
        if "-" in token and token.strip("-")
    ]


def _with_bigrams(tokens: list[str]) -> list[str]:
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def _text_features(text: str) -> list[str]:
    return _with_bigrams(words(text)) + _joined(text)


def category_feature(category: str) -> str:
    return CATEGORY_PREFIX + category.strip().lower()


def author_name(name: str) -> str:
    """An author's name as it is compared: case, accents and dots aside."""
    return " ".join(fold(name).replace(".", " ").split())


def author_feature(name: str) -> str:
    return AUTHOR_PREFIX + author_name(name)


def paper_features(paper: PaperText) -> list[str]:
    """The features of one paper (the analyzer of the paper vectorizer)."""
    features: list[str] = []
    for _ in range(TITLE_REPEAT):
        features += _text_features(paper.title)
    features += _text_features(paper.abstract)
    for keyword in paper.keywords:
        features += _text_features(keyword)
    features += [category_feature(c) for c in paper.categories if c.strip()]
    features += [author_feature(a) for a in paper.authors if a.strip()]
    return features


def topic_features(topic: str) -> list[str]:
    """A typed topic: its words and pairs, joined pairs, acronyms as their spelled-out pairs."""
    tokens = words(topic)
    features = _with_bigrams(tokens) + _joined(topic)
    features += [f"{a}{b}" for a, b in itertools.pairwise(tokens)]
    for token in tokens:
        if token in ALIASES:
            features.append(ALIASES[token])
        expansion = ACRONYMS.get(token)
        if expansion:
            parts = words(expansion)
            features += [f"{a} {b}" for a, b in itertools.pairwise(parts)] + _joined(expansion)
    return list(dict.fromkeys(features))  # each form once: a topic is a set of ways to say it


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
        spelled = all(token in present or ALIASES.get(token) in present for token in tokens)
        if tokens and (spelled or "".join(tokens) in present):
            matches.append(f"'{topic}'")
    matches += [c for c in follows.categories if category_feature(c) in present]
    matches += [a for a in follows.authors if author_feature(a) in present]
    return matches
