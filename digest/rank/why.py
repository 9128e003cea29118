"""The one short line that says why a paper is in this reader's digest.

It names what matched, most telling first: an author they follow, their own words, a paper
they rated up, a category they follow. Then, or for a pick nothing matched, how the paper
trends, but only what the email does not show already: its signal line gives the total
upvotes and stars and its number in the edition, so the gain in the window is told only
when it is not the whole total, and the day's trend rank only to a reader with follows or
ratings, when it is not the paper's number in the edition. When nothing is left to say
there is no line at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from digest.papers import EditionEntry, PaperText
from digest.rank.dedupe import title_key
from digest.rank.features import Follows, author_feature, category_feature, matched_follows
from digest.rank.personalize import Pick, SubscriberProfile
from digest.rank.pool import CandidatePool

MAX_CHARS = 80  # one line beside the paper, even on a phone
MAX_TOPICS_SHOWN = 2
MAX_AUTHORS_SHOWN = 2
MAX_PARTS = 2  # a reason and a trend note, or two reasons
TITLE_CHARS = 42  # of the rated-up paper named in `like "…"`
# A rated-up paper is named when the pick is this many standard deviations closer to it than
# the pool's papers are on average (the closest 2-3% on real abstracts). Relative, because
# tf-idf cosines of real abstracts are small and differ from one paper to the next.
LIKE_MIN_Z = 2.5
TOP_RANKS_NOTED = 10  # "#12 trending today" is no reason to read a paper
SEPARATOR = " · "
ELLIPSIS = "…"

FloatRows = npt.NDArray[np.float32]


class WhyLines:
    """Why-lines over one pool; the papers readers rated up are compared with it once."""

    def __init__(
        self,
        pool: CandidatePool,
        window_hours: float,
        *,
        shown: Sequence[EditionEntry] | None = None,
        rated: Iterable[PaperText] = (),
    ) -> None:
        """`shown`: the pool's entries in pool order, as the email shows them (None: unknown,
        so the window's gain is taken as what the signal line says). `rated`: every paper
        rated up by the readers to be explained."""
        self.pool = pool
        self.window = f"{window_hours:g}h"
        # Entries that do not line up with the pool tell nothing: treat as unknown.
        self.shown = shown if shown is not None and len(shown) == len(pool) else None
        self._likeness = _Likeness(pool, rated)

    def line(self, pick: Pick, profile: SubscriberProfile, position: int | None = None) -> str:
        """The line for one pick at `position` (1-based) in the reader's edition; may be ""."""
        reasons = self._reasons(pick, profile)
        trend = self._trend_note(pick, profile, position)
        parts = reasons + ([trend] if trend else [])
        if not parts:
            return ""
        chosen = [_shorten(parts[0], MAX_CHARS)]
        for part in parts[1:]:
            if len(chosen) < MAX_PARTS and len(SEPARATOR.join([*chosen, part])) <= MAX_CHARS:
                chosen.append(part)
        return SEPARATOR.join(chosen)

    def lines(self, picks: Sequence[Pick], profile: SubscriberProfile) -> list[str]:
        """The lines of one edition, its picks in edition order."""
        return [self.line(pick, profile, position) for position, pick in enumerate(picks, 1)]

    def _reasons(self, pick: Pick, profile: SubscriberProfile) -> list[str]:
        paper = self.pool.papers[pick.pool_index].text
        features = self.pool.feature_sets[pick.pool_index]
        follows = profile.follows
        reasons: list[str] = []
        authors = _named_in(follows.authors, paper.authors, author_feature, features)
        if authors:
            shown = authors[:MAX_AUTHORS_SHOWN]
            reasons.append(f"by {' and '.join(shown)}, whom you follow")
        topics = matched_follows(Follows(topics=follows.topics), features)
        if topics:
            reasons.append("matches " + ", ".join(topics[:MAX_TOPICS_SHOWN]))
        liked = self._likeness.closest(pick.pool_index, profile.liked)
        if liked is not None:
            reasons.append(f'like "{_short_title(liked.title)}"')
        categories = _named_in(follows.categories, paper.categories, category_feature, features)
        if categories:
            reasons.append(f"new in {categories[0]}")
        return reasons

    def _trend_note(self, pick: Pick, profile: SubscriberProfile, position: int | None) -> str:
        paper = self.pool.papers[pick.pool_index]
        entry = self.shown[pick.pool_index] if self.shown is not None else None
        notes: list[str] = []
        shown_upvotes = entry.upvotes if entry is not None else paper.upvote_gain
        shown_stars = entry.stars if entry is not None else paper.star_gain
        # A gain that is the whole total is the figure the signal line shows already.
        if paper.upvote_gain > 0 and paper.upvote_gain != shown_upvotes:
            notes.append(f"+{_count(paper.upvote_gain, 'upvote')} in {self.window}")
        elif paper.star_gain > 0 and paper.star_gain != shown_stars:
            notes.append(f"+{_count(paper.star_gain, 'star')} in {self.window}")
        # Without follows or ratings the edition is the trend order itself (less what they
        # already received): a rank there says nothing.
        rank = pick.pool_index + 1  # the pool is in trend order
        if profile.personal and rank <= TOP_RANKS_NOTED and rank != position:
            notes.append(f"#{rank} trending today")
        return ", ".join(notes)


class _Likeness:
    """How close each pool paper is to each rated-up paper, as a z-score over the pool."""

    def __init__(self, pool: CandidatePool, rated: Iterable[PaperText]) -> None:
        self._row: dict[tuple[str, str], int] = {}
        texts: list[PaperText] = []
        for text in rated:
            key = _text_key(text)
            if key not in self._row:
                self._row[key] = len(texts)
                texts.append(text)
        self._z: FloatRows = np.zeros((0, len(pool)), dtype=np.float32)
        self._title_keys = [title_key(paper.text.title) for paper in pool.papers]
        if texts:
            self._z = _standardised(_similarities(pool, texts))

    def closest(self, pool_index: int, liked: Sequence[PaperText]) -> PaperText | None:
        """The paper of `liked` this pool paper is most like, if it is clearly like it."""
        best: PaperText | None = None
        best_z = LIKE_MIN_Z
        for text in liked:
            row = self._row.get(_text_key(text))
            if row is None or title_key(text.title) == self._title_keys[pool_index]:
                continue  # not given to the constructor, or this very paper
            z = float(self._z[row, pool_index])
            if z >= best_z and (best is None or z > best_z):
                best, best_z = text, z
        return best


def _similarities(pool: CandidatePool, texts: Sequence[PaperText]) -> FloatRows:
    """Cosine of each text with each pool paper: in embedding space for a text that is in
    the pool and the pool has embeddings, else in the pool's tf-idf space."""
    tfidf = pool.vectors(texts)
    similar: FloatRows = np.asarray(
        sparse.csr_matrix(tfidf @ pool.matrix.T).todense(), dtype=np.float32
    )
    dense = getattr(pool, "dense", None)  # optional on a pool: present with embeddings
    if dense is None:
        return similar
    rows = np.asarray(dense, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] != len(pool):
        return similar
    in_pool = {_text_key(paper.text): i for i, paper in enumerate(pool.papers)}
    for i, text in enumerate(texts):
        index = in_pool.get(_text_key(text))
        if index is not None:
            similar[i] = rows @ rows[index]
    return similar


def _standardised(similar: FloatRows) -> FloatRows:
    mean = similar.mean(axis=1, keepdims=True)
    spread = similar.std(axis=1, keepdims=True)
    z: FloatRows = np.where(spread > 0, (similar - mean) / np.where(spread > 0, spread, 1), 0)
    return z.astype(np.float32)


def _named_in(
    followed: Sequence[str],
    on_paper: Sequence[str],
    feature: Callable[[str], str],
    features: frozenset[str],
) -> list[str]:
    """The paper's own spelling of each followed name it carries, in the reader's order."""
    if not followed:
        return []
    spelled = {feature(name): name.strip() for name in on_paper if name.strip()}
    names: list[str] = []
    for name in followed:
        key = feature(name)
        if name.strip() and key in features and key in spelled and spelled[key] not in names:
            names.append(spelled[key])
    return names


def _count(value: int, noun: str) -> str:
    return f"{value} {noun}{'' if value == 1 else 's'}"


def _text_key(text: PaperText) -> tuple[str, str]:
    return (text.title, text.abstract)


def _short_title(title: str) -> str:
    """The title's main clause ("Name: what it does" gives "Name"), cut at a word."""
    flat = " ".join(title.replace('"', "'").split())
    head, colon, _ = flat.partition(": ")
    if colon and len(head) >= 4:
        flat = head
    return _shorten(flat, TITLE_CHARS)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS) + 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut[: limit - len(ELLIPSIS)]
    return cut.rstrip(" ,;:.-\u2013\u2014") + ELLIPSIS
