"""Sentence embeddings of papers: what ranking needs of a model, and the text it is shown.

Pure: the model itself is loaded elsewhere (digest.semantic) and handed in as an `Embedder`,
so ranking runs, and is tested, without the optional `semantic` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from digest.papers import PaperText

Vectors = npt.NDArray[np.float32]

# all-MiniLM-L6-v2 reads at most 128 word pieces well (its training length) and costs twice
# as much at 256; a title and the start of an abstract say what a paper is about. About 4
# characters a word piece, with room so the model's own truncation seldom has to act.
EMBEDDING_CHARACTERS = 1_000
ENCODE_BATCH = 64  # papers per call to the model: memory stays flat however many there are


class Embedder(Protocol):
    """A sentence-embedding model: texts in, unit-length float32 rows out."""

    @property
    def dimensions(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors:
        """float32 array [len(texts), dimensions], each row of unit length."""
        ...


def paper_text_for_embedding(text: PaperText) -> str:
    """Title and abstract as one passage, cut at a word near EMBEDDING_CHARACTERS."""
    title = " ".join(text.title.split())
    abstract = " ".join(text.abstract.split())
    passage = f"{title}. {abstract}" if abstract else title
    if len(passage) <= EMBEDDING_CHARACTERS:
        return passage
    cut = passage.rfind(" ", 0, EMBEDDING_CHARACTERS + 1)
    return passage[: cut if cut > EMBEDDING_CHARACTERS // 2 else EMBEDDING_CHARACTERS]


def encode_papers(
    embedder: Embedder, texts: Sequence[PaperText], batch: int = ENCODE_BATCH
) -> Vectors:
    """Unit rows for `texts`, in order, encoded `batch` at a time."""
    if not texts:
        return np.zeros((0, embedder.dimensions), dtype=np.float32)
    passages = [paper_text_for_embedding(text) for text in texts]
    parts = [embedder.encode(passages[i : i + batch]) for i in range(0, len(passages), batch)]
    return unit_rows(np.concatenate(parts))


def unit_rows(vectors: npt.ArrayLike) -> Vectors:
    """float32 rows scaled to unit length (an all-zero row stays zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    out: Vectors = np.zeros_like(array)
    np.divide(array, norms, out=out, where=norms > 0)
    return out


def to_bytes(vector: npt.ArrayLike) -> bytes:
    """One vector as float32 little-endian bytes, the way the store keeps it."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes, dimensions: int | None = None) -> Vectors | None:
    """The vector stored as `data`; None when it is not `dimensions` float32 values."""
    if not data or len(data) % 4:
        return None
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if dimensions is not None and vector.size != dimensions:
        return None
    return vector
