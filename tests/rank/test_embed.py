"""The pure side of semantic relevance: the text a paper is embedded from, and pool rows."""

from __future__ import annotations

import numpy as np
import pytest

from digest.papers import PaperText
from digest.rank.embed import (
    EMBEDDING_CHARACTERS,
    encode_papers,
    from_bytes,
    paper_text_for_embedding,
    to_bytes,
)
from digest.rank.pool import CandidatePool, PoolPaper
from tests.rank.support_embed import WordHashEmbedder


def pool_papers(count: int) -> list[PoolPaper]:
    return [
        PoolPaper(i + 1, PaperText(f"paper {i} about topic{i}", f"abstract {i}"), trend=count - i)
        for i in range(count)
    ]


def test_the_embedded_text_is_title_then_abstract() -> None:
    text = PaperText(title="  Multi-agent\n debate ", abstract="We  study agents.")
    assert paper_text_for_embedding(text) == "Multi-agent debate. We study agents."
    assert paper_text_for_embedding(PaperText(title="Only a title")) == "Only a title"


def test_a_long_abstract_is_cut_at_a_word() -> None:
    text = PaperText(title="Title", abstract="word " * 1000)
    passage = paper_text_for_embedding(text)
    assert len(passage) <= EMBEDDING_CHARACTERS
    assert passage.startswith("Title. word") and passage.endswith("word")


def test_papers_are_encoded_in_batches_into_unit_rows() -> None:
    embedder = WordHashEmbedder()
    texts = [PaperText(f"paper {i}") for i in range(10)]
    vectors = encode_papers(embedder, texts, batch=4)
    assert vectors.shape == (10, 16) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert embedder.calls == [4, 4, 2]
    assert encode_papers(embedder, []).shape == (0, 16)


def test_a_vector_survives_its_bytes() -> None:
    vector = np.array([0.6, -0.8, 0.0], dtype=np.float32)
    back = from_bytes(to_bytes(vector), 3)
    assert back is not None and np.array_equal(back, vector)
    assert from_bytes(to_bytes(vector), 4) is None
    assert from_bytes(b"abc") is None


def test_a_pool_keeps_dense_rows_aligned_with_its_papers() -> None:
    papers = pool_papers(3)
    dense = encode_papers(WordHashEmbedder(), [p.text for p in papers])
    pool = CandidatePool(papers, dense=dense)
    assert pool.dense is not None and np.allclose(pool.dense, dense)
    assert pool.embedder is None


def test_a_pool_without_vectors_has_no_dense_rows() -> None:
    pool = CandidatePool(pool_papers(3))
    assert pool.dense is None and pool.embedder is None


def test_missing_rows_are_embedded_when_the_pool_has_the_model() -> None:
    papers = pool_papers(3)
    embedder = WordHashEmbedder()
    full = encode_papers(embedder, [p.text for p in papers])
    partial = full.copy()
    partial[1] = 0.0
    pool = CandidatePool(papers, dense=partial, embedder=embedder)
    assert pool.dense is not None and np.allclose(pool.dense, full, atol=1e-6)
    assert embedder.calls[-1] == 1  # only the missing paper


def test_missing_rows_without_the_model_mean_no_dense_rows() -> None:
    papers = pool_papers(3)
    partial = encode_papers(WordHashEmbedder(), [p.text for p in papers])
    partial[2] = np.nan
    assert CandidatePool(papers, dense=partial).dense is None


def test_a_model_and_no_vectors_embeds_the_whole_pool() -> None:
    pool = CandidatePool(pool_papers(5), embedder=WordHashEmbedder())
    assert pool.dense is not None and pool.dense.shape == (5, 16)


def test_dense_rows_must_match_the_papers() -> None:
    with pytest.raises(ValueError, match="shape"):
        CandidatePool(pool_papers(3), dense=np.ones((2, 16), dtype=np.float32))
