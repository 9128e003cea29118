"""A per-subscriber linear model trained on their ratings, arxiv-sanity-lite style.

Positives are the papers they rated up (and what they follow, as one more document);
negatives are the papers they rated down and a fixed sample of the day's pool, as
arxiv-sanity-lite treats every untagged paper as a negative, less the sampled papers the
caller leaves out for that subscriber (those they rated up, and those their profile ranks
highest: digest.rank.personalize). The features are the pool's sparse tf-idf rows, with
the dense embedding rows appended when there are any, each part weighted so a dot product
is the blend of the two cosines.

The model is arxiv-sanity-lite's LinearSVC (squared hinge loss, balanced classes, a small
C, the intercept regularised like a weight), solved in closed form. With C this small on
unit-length rows the training rows stay inside the margin, or barely leave it, and inside
it the squared hinge is the squared error: the SVM is then a weighted ridge regression on
labels +1/-1 (scores correlate 0.9999 with liblinear's on the development corpus). Its
dual needs dot products only. Everyone shares the background rows, so their part is
factored once per pool (an eigendecomposition of their dot products); what is left per
subscriber is a system of the size of their ratings, solved exactly by the Schur
complement, and the scores of the pool's papers come out of a few matrix products per
group of subscribers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

BACKGROUND_PAPERS = 256  # pool papers sampled as negatives: enough, and training stays cheap
SVM_C = 0.1
GROUP = 128  # subscribers scored together: the pool is multiplied by their weights at once
KERNEL_GROUP = 16  # subscribers whose rows' dot products are taken together
DENSE_SHARE = 0.05  # past this share of non-zeros, their tf-idf weights multiply as dense

Array = npt.NDArray[np.float32]
Float64 = npt.NDArray[np.float64]
Indices = npt.NDArray[np.int64]


def background_sample(pool_size: int) -> Indices:
    """Evenly spaced pool indices (the pool is in trend order): the same for everyone."""
    if pool_size <= BACKGROUND_PAPERS:
        return np.arange(pool_size)
    return np.linspace(0, pool_size - 1, BACKGROUND_PAPERS).round().astype(np.int64)


@dataclass(frozen=True)
class FeatureRows:
    """Rows in two parts whose dot products add up: sparse tf-idf and dense embeddings."""

    sparse: sparse.csr_matrix
    dense: npt.NDArray[Any] | None = None

    def __len__(self) -> int:
        return int(self.sparse.shape[0])

    def take(self, index: Indices) -> FeatureRows:
        return FeatureRows(self.sparse[index], None if self.dense is None else self.dense[index])

    def in_double(self) -> FeatureRows:
        """The same rows in float64 (see LearnedModels)."""
        return FeatureRows(
            self.sparse.astype(np.float64),
            None if self.dense is None else self.dense.astype(np.float64),
        )

    def dot(self, other: FeatureRows) -> Float64:
        """[len(self), len(other)] kernel: dot products plus one (the intercept's feature)."""
        product = np.asarray((self.sparse @ other.sparse.T).todense(), dtype=np.float64)
        if self.dense is not None and other.dense is not None:
            product += self.dense @ other.dense.T
        return product + 1.0


@dataclass(frozen=True)
class Ratings:
    """Every subscriber's training rows besides the background, stacked.

    `owner[i]` is the subscriber (0 to count - 1) row i belongs to, `liked[i]` whether it is
    a positive; `excluded[s]` are positions in the background that subscriber s must not
    have as negatives (the pool papers they rated up).
    """

    rows: FeatureRows
    owner: Indices
    liked: npt.NDArray[np.bool_]
    excluded: Sequence[Sequence[int]]


class LearnedModels:
    """The pool's side of every subscriber's model: its rows and the background's.

    It computes in float64 and rounds the scores to float32: how subscribers are grouped
    changes the order of the sums in a matrix product, and so the last bits of a float32
    result, but not a float64 one's rounding to float32 (the same profiles give the same
    edition, however they were batched).
    """

    def __init__(self, pool: FeatureRows, background: Indices) -> None:
        pool = pool.in_double()
        self.pool = pool
        self.background_index = background
        self.background = pool.take(background)
        # background kernel = Q diag(E) Q^T: with it, (kernel + ridge * I)^-1 is a diagonal
        # scaling in Q's basis whatever a subscriber's ridge.
        self.eigenvalues, self.basis = np.linalg.eigh(self.background.dot(self.background))
        self.ones = self.basis.T @ np.ones(len(background))  # Q^T 1
        # What multiplies a subscriber's weights to score the pool: the pool's kernel with
        # the background in Q's basis, and its dense rows (one product for both).
        by_basis = pool.dot(self.background) @ self.basis
        self.scorer = by_basis if pool.dense is None else np.hstack([by_basis, pool.dense])

    def scores(self, ratings: Ratings, count: int) -> tuple[Array, npt.NDArray[np.bool_]]:
        """[count, len(pool)]: each subscriber's model score of every pool paper, and
        whether they have a model (one positive and one negative at least; else zeros)."""
        out = np.zeros((count, len(self.pool)), dtype=np.float32)
        solved = np.zeros(count, dtype=bool)
        order = np.argsort(ratings.owner, kind="stable")
        starts = np.searchsorted(ratings.owner[order], np.arange(count + 1))
        for first in range(0, count, GROUP):
            last = min(first + GROUP, count)
            rows = order[starts[first] : starts[last]]
            if rows.size:
                self._score_group(ratings, first, last, rows, starts - starts[first], out, solved)
        return out, solved

    def _score_group(
        self,
        ratings: Ratings,
        first: int,
        last: int,
        rows: Indices,
        offsets: Indices,
        out: Array,
        solved: npt.NDArray[np.bool_],
    ) -> None:
        group = ratings.rows.take(rows).in_double()
        owners = ratings.owner[rows] - first
        kernels = _own_kernels(group, offsets[first : last + 1])
        in_basis = group.dot(self.background) @ self.basis  # K_RB Q
        liked = ratings.liked[rows]
        background = len(self.background)
        size = last - first
        # Per subscriber: the weights of their own rows (alpha_R) and their background
        # part in Q's basis (t): scores = (K_PB Q) t + pool . (R^T alpha_R) + sum alpha_R.
        weights = np.zeros(rows.size, dtype=np.float64)
        in_basis_weights = np.zeros((size, background), dtype=np.float64)
        for subscriber in range(first, last):
            own = slice(offsets[subscriber], offsets[subscriber + 1])
            excluded = np.unique(np.asarray(ratings.excluded[subscriber], dtype=np.int64))
            labels = np.where(liked[own], 1.0, -1.0)
            positives = int((labels > 0).sum())
            negatives = labels.size - positives + background - excluded.size
            if positives == 0 or negatives == 0:
                continue
            # Balanced classes as scikit-learn weighs them: a row of class weight c gets the
            # ridge term 1 / (2 C c) on its diagonal.
            total = positives + negatives
            ridge_up = positives / (SVM_C * total)
            ridge_down = negatives / (SVM_C * total)
            scale = 1.0 / (self.eigenvalues + ridge_down)  # (K_BB + ridge I)^-1 in Q's basis
            a = in_basis[own]
            a_scaled = a * scale
            schur = kernels[subscriber - first] - a_scaled @ a.T
            schur[np.diag_indices_from(schur)] += np.where(labels > 0, ridge_up, ridge_down)
            target = labels + a_scaled @ self.ones
            if excluded.size:
                # The excluded background rows leave the system: a low-rank correction of
                # the background's inverse (H' = H - H_X H_XX^-1 H_X^T).
                q = self.basis[excluded]
                q_scaled = q * scale
                inner = q_scaled @ q.T
                cross = a_scaled @ q.T
                schur += cross @ np.linalg.solve(inner, cross.T)
                target -= cross @ np.linalg.solve(inner, q_scaled @ self.ones)
            alpha = np.linalg.solve(schur, target)
            t = scale * (-self.ones - a.T @ alpha)
            if excluded.size:
                t -= q_scaled.T @ np.linalg.solve(inner, q @ t)
            weights[own] = alpha
            in_basis_weights[subscriber - first] = t
            solved[subscriber] = True
        assign = sparse.csr_matrix(
            (weights, (owners, np.arange(rows.size))), shape=(size, rows.size)
        )
        # scores = K_PB alpha_B + K_PR alpha_R, the second as pool . (R^T alpha_R) + sum alpha_R
        by_scorer = in_basis_weights
        if group.dense is not None and self.pool.dense is not None:
            by_scorer = np.hstack([in_basis_weights, assign @ group.dense])
        scores = by_scorer @ self.scorer.T
        in_features = assign @ group.sparse  # [size, features]: their rows' weighted sum
        if in_features.nnz > DENSE_SHARE * np.prod(in_features.shape):
            scores += (self.pool.sparse @ in_features.toarray().T).T
        else:
            scores += np.asarray((self.pool.sparse @ in_features.T).todense()).T
        scores += np.asarray(assign.sum(axis=1))  # the intercept's part
        out[first:last] = scores


def _own_kernels(rows: FeatureRows, offsets: Indices) -> list[Float64]:
    """Each subscriber's kernel among their own rows (rows offsets[s] to offsets[s + 1]),
    computed KERNEL_GROUP subscribers at a time: the products across subscribers are
    waste, and a whole group's would be most of the work."""
    kernels: list[Float64] = []
    for first in range(0, offsets.size - 1, KERNEL_GROUP):
        last = min(first + KERNEL_GROUP, offsets.size - 1)
        base = offsets[first]
        part = rows.take(np.arange(base, offsets[last]))
        kernel = part.dot(part)
        for s in range(first, last):
            own = slice(offsets[s] - base, offsets[s + 1] - base)
            kernels.append(kernel[own, own])
    return kernels
