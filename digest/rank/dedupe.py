"""Near-duplicate suppression: the same work under two ids or two titles shows up once.

Within a day's pool, `duplicate_of` keeps the best-ranked copy of each work. Across
editions, `copies_of` finds the papers of a pool that are the same work as a paper sent
before: the same title letter for letter, or most of the same word pairs in title and
abstract (a new arXiv id, a new version, a retitled or lightly edited one).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    HashingVectorizer,
    TfidfVectorizer,
)

from digest.papers import PaperText
from digest.rank.features import words

NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
ALPHANUMERIC_RUN = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)
# Share of word pairs (shingles) of title and abstract two papers have in common, over all
# they have (Jaccard). A revision that rewrites a sentence or two of an abstract keeps well
# above this; two different papers on one topic share a few per cent. The default of
# DIGEST_NEAR_DUPLICATE_RESEMBLANCE.
COPY_RESEMBLANCE = 0.5
# Below this many word pairs a text is a title and a line: too little to call two papers one
# work by resemblance (the title rule still applies).
MIN_SHINGLES = 12
SHINGLE_FEATURES = 2**22  # hashed: collisions are rare enough not to matter at this size
SEEN_CHUNK = 4096  # earlier papers compared at once, so the product stays small


def title_key(title: str) -> str:
    """The title without case, spaces or punctuation: equal keys, one work."""
    return NON_ALPHANUMERIC.sub("", title.lower())


def duplicate_of(
    papers: Sequence[PaperText], threshold: float, resemblance: float = COPY_RESEMBLANCE
) -> list[int | None]:
    """For each paper, the index of an earlier paper it duplicates, or None.

    Papers come best first, so the kept copy of a work is its best-ranked one. Two papers
    are the same work when their titles match letter for letter, when the tf-idf cosine
    of title and abstract reaches `threshold`, or when they are copies by the rule of
    `copies_of` (at `resemblance`), so a pool never holds what would be withheld as a copy
    the next day.
    """
    result: list[int | None] = [None] * len(papers)
    first_with_title: dict[str, int] = {}
    for i, paper in enumerate(papers):
        key = title_key(paper.title)
        if key and key in first_with_title:
            result[i] = first_with_title[key]
        elif key:
            first_with_title[key] = i
    documents = [" ".join(words(f"{p.title} {p.abstract}")) for p in papers]
    if len(papers) < 2 or not any(documents):
        return result
    matrix = TfidfVectorizer(dtype=np.float32).fit_transform(documents)
    similar = (matrix @ matrix.T).tocoo()
    found = {
        (int(j), int(i))  # (later, earlier)
        for i, j, value in zip(similar.row, similar.col, similar.data, strict=True)
        if i < j and value >= threshold
    }
    rows, sizes = _shingle_rows(papers)
    for start in range(0, len(papers), SEEN_CHUNK):
        stop = start + SEEN_CHUNK
        first, second = _resembling(rows[start:stop], sizes[start:stop], rows, sizes, resemblance)
        found.update(
            (int(j), start + int(i))
            for i, j in zip(first, second, strict=True)
            if start + int(i) < int(j)
        )
    pairs = sorted(found)
    for later, earlier in pairs:
        if result[later] is None:
            root = earlier
            while result[root] is not None:
                root = result[root]  # type: ignore[assignment]
            result[later] = root
    return result


def _shingles(paper: PaperText) -> list[str]:
    """Word pairs of title and abstract, stop words out. Plainer than `words` (no stemming,
    accents dropped rather than folded one by one): copies share their spelling, and this
    runs over every paper of months of pools."""
    text = f"{paper.title} {paper.abstract}".lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    tokens = [token for token in ALPHANUMERIC_RUN.findall(text) if token not in STOP_WORDS]
    return [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


_SHINGLER = HashingVectorizer(
    analyzer=lambda shingles: shingles,
    n_features=SHINGLE_FEATURES,
    binary=True,
    norm=None,
    alternate_sign=False,
    dtype=np.float32,
)


def _shingle_rows(
    papers: Sequence[PaperText],
) -> tuple[sparse.csr_matrix, npt.NDArray[np.float32]]:
    """One binary row of hashed word pairs per paper, and how many each has."""
    rows = _SHINGLER.transform([_shingles(paper) for paper in papers]).tocsr()
    sizes = np.asarray(rows.sum(axis=1), dtype=np.float32).ravel()
    return rows, sizes


def copies_of(
    papers: Sequence[PaperText],
    seen: Sequence[PaperText],
    resemblance: float = COPY_RESEMBLANCE,
) -> list[list[int]]:
    """For each paper of `seen`, the indices of `papers` that are the same work.

    Same work: the same title letter for letter (case and punctuation aside), or at least
    `resemblance` of their word pairs in common, both having MIN_SHINGLES or more.
    """
    result: list[set[int]] = [set() for _ in seen]
    if not papers or not seen:
        return [[] for _ in seen]
    by_title: dict[str, list[int]] = {}
    for i, paper in enumerate(papers):
        key = title_key(paper.title)
        if key:
            by_title.setdefault(key, []).append(i)
    for j, earlier in enumerate(seen):
        result[j].update(by_title.get(title_key(earlier.title), ()))
    rows, sizes = _shingle_rows(papers)
    for start in range(0, len(seen), SEEN_CHUNK):
        chunk_rows, chunk_sizes = _shingle_rows(seen[start : start + SEEN_CHUNK])
        found = _resembling(chunk_rows, chunk_sizes, rows, sizes, resemblance)
        for j, i in zip(*found, strict=True):
            result[start + int(j)].add(int(i))
    return [sorted(found) for found in result]


def _resembling(
    a: sparse.csr_matrix,
    a_sizes: npt.NDArray[np.float32],
    b: sparse.csr_matrix,
    b_sizes: npt.NDArray[np.float32],
    resemblance: float,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """The (row of a, row of b) pairs that share `resemblance` of their word pairs."""
    common = (a @ b.T).tocoo()
    union = a_sizes[common.row] + b_sizes[common.col] - common.data
    enough = (a_sizes[common.row] >= MIN_SHINGLES) & (b_sizes[common.col] >= MIN_SHINGLES)
    similar = enough & (common.data >= resemblance * union)
    return common.row[similar], common.col[similar]
