"""What other readers who follow the same topic rated "more like this".

A typed topic says little ("test-time scaling" is three common words; a sentence model
reads "VLM" poorly), but the papers that other readers who typed the same topic rated up
say what it means to the people who follow it. Those papers join a follower's profile
with a small weight (`DIGEST_COMMUNITY_WEIGHT`): what they typed themselves and what they
rated themselves weigh more.

Two topics are the same when they have the same words, whatever their order, case,
hyphens or plurals (`Multi-Agent` and `multi agent`). A topic's papers count only when at
least MIN_READERS other readers who follow it rated something up, so a digest never
reflects one other person's votes; the why-line never names them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from digest.papers import PaperText
from digest.rank.features import words

MIN_READERS = 2  # other readers of a topic whose votes it takes before they count
SUGGESTED = 50  # papers suggested at most to one reader: the most liked


@dataclass(frozen=True)
class Reader:
    """One reader (a subscriber id), their typed topics and the papers they rated up."""

    reader_id: int
    topics: Sequence[str]
    liked: Sequence[PaperText]


def topic_key(topic: str) -> str:
    """A topic's words in a fixed order: how two readers' topics are found to be one."""
    return " ".join(sorted(set(words(topic))))


NOTHING_ADDED: tuple[frozenset[str], frozenset[PaperText]] = (frozenset(), frozenset())


@dataclass
class _Topic:
    readers: int = 0  # readers who follow it and rated something up
    liked: Counter[PaperText] = field(default_factory=Counter)  # by how many of them


class Community:
    """Per topic, the papers rated up by the readers who follow it, with how many did."""

    def __init__(self, readers: Iterable[Reader] = ()) -> None:
        self._topics: dict[str, _Topic] = {}
        # What each reader added, to leave it out of what they are suggested.
        self._added: dict[int, tuple[frozenset[str], frozenset[PaperText]]] = {}
        self._for_keys: dict[tuple[frozenset[str], int], list[tuple[PaperText, int]]] = {}
        for reader in readers:
            liked = frozenset(reader.liked)
            keys = frozenset(topic_key(t) for t in reader.topics) - {""}
            if not liked or not keys or reader.reader_id in self._added:
                continue
            self._added[reader.reader_id] = (keys, liked)
            for key in keys:
                topic = self._topics.setdefault(key, _Topic())
                topic.readers += 1
                topic.liked.update(liked)

    def suggested(
        self, reader_id: int, topics: Sequence[str], limit: int = SUGGESTED
    ) -> list[tuple[PaperText, int]]:
        """The papers that other readers who follow these topics rated up, with how many of
        them did (summed over the topics), this reader's own votes left out: the `limit`
        most liked, in a fixed order."""
        keys = frozenset(topic_key(t) for t in topics) - {""}
        own = self._added.get(reader_id)
        if own is not None:
            return self._suggested(keys, own, limit)
        # Most readers rated nothing, and those who follow the same topics get the same.
        known = self._for_keys.get((keys, limit))
        if known is None:
            known = self._for_keys[(keys, limit)] = self._suggested(keys, NOTHING_ADDED, limit)
        return list(known)

    def _suggested(
        self, keys: frozenset[str], added: tuple[frozenset[str], frozenset[PaperText]], limit: int
    ) -> list[tuple[PaperText, int]]:
        own_keys, own_liked = added
        counts: Counter[PaperText] = Counter()
        for key in keys:
            topic = self._topics.get(key)
            own = key in own_keys
            if topic is None or topic.readers - own < MIN_READERS:
                continue
            counts.update(topic.liked)
            if own:
                counts.subtract(own_liked)
        ranked = sorted(
            ((paper, n) for paper, n in counts.items() if n > 0),
            key=lambda item: (-item[1], item[0].title, item[0].abstract),
        )
        return ranked[:limit]
