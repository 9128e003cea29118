"""What a subscriber never wants to see: words and phrases, and authors.

A paper is muted for a subscriber when its title, abstract or keywords carry a muted phrase
(its words in a row, case, accents, hyphens and a plural "s" aside: `multi-agent` mutes
"multi agent", "Multi-Agents" and "multiagent"), or when one of its authors is a muted
author (the name as the paper spells it, case, accents and dots aside). Muted papers are
withheld like papers already received, so no trend brings them back.

A mute and a follow can meet: a muted phrase inside a followed topic, or an author both
followed and muted. The mute wins, and `conflicts` names each such pair so the page and the
command line can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from digest.rank.features import TOKEN, Follows, author_name, fold, stem
from digest.rank.pool import CandidatePool

FIELD_BREAK = " | "  # between title, abstract and keywords: a phrase never spans two


@dataclass(frozen=True)
class Mutes:
    """Phrases (a word is a phrase of one) and author names a subscriber muted."""

    phrases: Sequence[str] = field(default_factory=tuple)
    authors: Sequence[str] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not (self.phrases or self.authors)


@dataclass(frozen=True)
class MuteConflict:
    """A follow that a mute overrides: `kind` is "topic" or "author"."""

    kind: str
    followed: str
    muted: str

    def sentence(self) -> str:
        if self.kind == "author":
            return (
                f"You follow and mute the author {self.followed}: muted wins, so you never "
                "get their papers."
            )
        if _tokens(self.followed) == _tokens(self.muted):
            return (
                f"You follow and mute '{self.followed}': muted wins, so papers that mention "
                "it never reach you."
            )
        return (
            f"You follow '{self.followed}' and mute '{self.muted}': muted wins, so papers "
            f"that mention '{self.muted}' never reach you, even when they match "
            f"'{self.followed}'."
        )


def _tokens(text: str) -> tuple[str, ...]:
    """Every word, stop words included (a phrase keeps its order), hyphens as spaces."""
    found: list[str] = []
    for token in TOKEN.findall(fold(text)):
        found += [stem(part) for part in token.split("-") if part]
    return tuple(found)


def _joined_words(text: str) -> list[str]:
    """Hyphenated words written as one: `multi-agent` is also `multiagent`."""
    return [
        stem(token.replace("-", ""))
        for token in TOKEN.findall(fold(text))
        if "-" in token.strip("-")
    ]


class _PoolText:
    """Each pool paper's words as one searchable line, and its authors, made once a pool."""

    def __init__(self, pool: CandidatePool) -> None:
        self.ids = [paper.paper_id for paper in pool.papers]
        self.lines: list[str] = []
        self.authors: dict[str, set[int]] = {}
        for paper in pool.papers:
            text = paper.text
            parts = [text.title, text.abstract, *text.keywords]
            words = FIELD_BREAK.join(" ".join(_tokens(part)) for part in parts)
            joined = " ".join(word for part in parts for word in _joined_words(part))
            self.lines.append(f" {words}{FIELD_BREAK}{joined} ")
            for name in text.authors:
                key = author_name(name)
                if key:
                    self.authors.setdefault(key, set()).add(paper.paper_id)
        self.by_phrase: dict[tuple[str, ...], frozenset[int]] = {}

    def with_phrase(self, tokens: tuple[str, ...]) -> frozenset[int]:
        found = self.by_phrase.get(tokens)
        if found is None:
            needles = [f" {' '.join(tokens)} "]
            if len(tokens) > 1:
                needles.append(f" {''.join(tokens)} ")
            found = frozenset(
                paper_id
                for paper_id, line in zip(self.ids, self.lines, strict=True)
                if any(needle in line for needle in needles)
            )
            self.by_phrase[tokens] = found
        return found


_pool_text: WeakKeyDictionary[CandidatePool, _PoolText] = WeakKeyDictionary()


def muted_papers(pool: CandidatePool, mutes: Mutes) -> frozenset[int]:
    """The ids of the pool's papers that `mutes` withholds."""
    if mutes.empty:
        return frozenset()
    text = _pool_text.get(pool)
    if text is None:
        text = _pool_text[pool] = _PoolText(pool)
    muted: set[int] = set()
    for phrase in mutes.phrases:
        tokens = _tokens(phrase)
        if tokens:
            muted |= text.with_phrase(tokens)
    for name in mutes.authors:
        muted |= text.authors.get(author_name(name), set())
    return frozenset(muted)


def conflicts(follows: Follows, mutes: Mutes) -> list[MuteConflict]:
    """Each followed topic that contains a muted phrase, and each author followed and muted."""
    found: list[MuteConflict] = []
    for topic in follows.topics:
        followed = _tokens(topic)
        for phrase in mutes.phrases:
            muted = _tokens(phrase)
            if muted and _contains(followed, muted):
                found.append(MuteConflict("topic", topic, phrase))
                break
    muted_authors = {author_name(name): name for name in mutes.authors}
    for name in follows.authors:
        if author_name(name) in muted_authors:
            found.append(MuteConflict("author", name, muted_authors[author_name(name)]))
    return found


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    size = len(phrase)
    return any(tuple(words[i : i + size]) == tuple(phrase) for i in range(len(words) - size + 1))
