"""A tiny deterministic embedder for tests that need vectors but not the real model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from digest.rank.embed import Vectors, unit_rows


class WordHashEmbedder:
    """Bag of hashed words: texts sharing words get close vectors; counts its calls."""

    def __init__(self, dimensions: int = 16, name: str = "word-hash@16") -> None:
        self.dimensions = dimensions
        self.name = name
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                out[row, digest[0] % self.dimensions] += 1.0
            out[row, -1] += 0.01  # never an all-zero row
        return unit_rows(out)


class BrokenEmbedder(WordHashEmbedder):
    def encode(self, texts: Sequence[str]) -> Vectors:
        raise RuntimeError("the model fell over")
