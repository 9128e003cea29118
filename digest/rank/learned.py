"""A per-subscriber linear model trained on their ratings, arxiv-sanity-lite style.

Positives are the papers they rated up (and what they follow, as one more document);
negatives are the papers they rated down and a fixed sample of the day's pool, as
arxiv-sanity-lite treats every untagged paper as a negative. The features are the pool's
sparse tf-idf rows, with the dense embedding rows appended when there are any, each part
weighted so a dot product is the blend of the two cosines. A LinearSVC with balanced
classes and strong regularisation (a small C) scores every pool paper.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

BACKGROUND_PAPERS = 256  # pool papers sampled as negatives: enough, and training stays cheap
SVM_C = 0.1
SVM_MAX_ITER = 2000


def background_sample(pool_size: int) -> npt.NDArray[np.int64]:
    """Evenly spaced pool indices (the pool is in trend order): the same for everyone."""
    if pool_size <= BACKGROUND_PAPERS:
        return np.arange(pool_size)
    return np.linspace(0, pool_size - 1, BACKGROUND_PAPERS).round().astype(np.int64)


def learned_scores(
    pool_features: sparse.csr_matrix,
    positives: sparse.csr_matrix,
    negatives: sparse.csr_matrix,
    background: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """The model's score of every pool paper (higher is more like what they rated up).

    `background` are pool rows used as negatives; rows of papers they rated up must not be
    among them (the caller drops them).
    """
    rows = sparse.vstack([positives, negatives, pool_features[background]]).tocsr()
    labels = np.r_[
        np.ones(positives.shape[0]), np.zeros(negatives.shape[0] + background.size)
    ].astype(np.int64)
    model = LinearSVC(
        C=SVM_C, class_weight="balanced", max_iter=SVM_MAX_ITER, tol=1e-5, random_state=0
    )
    with warnings.catch_warnings():
        # A few hundred rows converge in practice; an unconverged model still ranks well.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(rows, labels)
    return np.asarray(model.decision_function(pool_features), dtype=np.float32)
