"""The evaluation keeps embeddings on disk; in tests, in the session's temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _embedding_cache_in_a_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    before = os.environ.get("DIGEST_EVAL_CACHE")
    os.environ["DIGEST_EVAL_CACHE"] = str(tmp_path_factory.mktemp("eval-cache"))
    yield
    if before is None:
        os.environ.pop("DIGEST_EVAL_CACHE", None)
    else:
        os.environ["DIGEST_EVAL_CACHE"] = before
