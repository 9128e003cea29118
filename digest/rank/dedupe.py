"""Near-duplicate suppression: the same work under two ids or two titles shows up once."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.papers import PaperText
from digest.rank.features import words

NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def _title_key(title: str) -> str:
    return NON_ALPHANUMERIC.sub("", title.lower())


def duplicate_of(papers: Sequence[PaperText], threshold: float) -> list[int | None]:
    """For each paper, the index of an earlier paper it duplicates, or None.

    Papers come best first, so the kept copy of a work is its best-ranked one. Two papers
    are the same work when their titles match letter for letter, or when the tf-idf cosine
    of title and abstract reaches `threshold`.
    """
    result: list[int | None] = [None] * len(papers)
    first_with_title: dict[str, int] = {}
    for i, paper in enumerate(papers):
        key = _title_key(paper.title)
        if key and key in first_with_title:
            result[i] = first_with_title[key]
        elif key:
            first_with_title[key] = i
    documents = [" ".join(words(f"{p.title} {p.abstract}")) for p in papers]
    if len(papers) < 2 or not any(documents):
        return result
    matrix = TfidfVectorizer(dtype=np.float32).fit_transform(documents)
    similar = (matrix @ matrix.T).tocoo()
    pairs = sorted(
        (int(j), int(i))  # (later, earlier)
        for i, j, value in zip(similar.row, similar.col, similar.data, strict=True)
        if i < j and value >= threshold
    )
    for later, earlier in pairs:
        if result[later] is None:
            root = earlier
            while result[root] is not None:
                root = result[root]  # type: ignore[assignment]
            result[later] = root
    return result
