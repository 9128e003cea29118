"""What weighs most in a subscriber's edition, in words a reader can check.

From what they told us — their follows, the papers they rated up (and their own seed papers)
less those they rated down — a profile in the pool's tf-idf space, as relevance starts from
(`digest.rank.personalize`). The **terms** that weigh most are the profile's features that
carry the most weight in the papers picked for them (profile weight times the papers' weight,
summed over the edition), so they say what the edition and their profile share; the
**papers** are their rated-up and seed papers most like the edition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.preprocessing import normalize

from digest.papers import PaperText
from digest.rank.features import AUTHOR_PREFIX, CATEGORY_PREFIX
from digest.rank.personalize import DISLIKE_WEIGHT, SubscriberProfile
from digest.rank.pool import CandidatePool

TERMS_SHOWN = 8
PAPERS_SHOWN = 3

_names: WeakKeyDictionary[CandidatePool, npt.NDArray[np.str_]] = WeakKeyDictionary()


@dataclass(frozen=True)
class Weights:
    terms: list[str]  # most weight first: words, word pairs, categories, author names
    papers: list[PaperText]  # their rated-up / seed papers most like the edition


def what_weighs(
    pool: CandidatePool,
    profile: SubscriberProfile,
    picked: Sequence[int],
    feedback_weight: float,
) -> Weights:
    """The terms and papers that weigh most in the edition `picked` (pool indices)."""
    want = normalize(pool.vectors([profile.follows])).tocsr()
    liked = pool.paper_vectors(list(profile.liked)) if profile.liked else None
    if liked is not None:
        want = want + feedback_weight * normalize(sparse.csr_matrix(liked.sum(axis=0)))
    if profile.disliked:
        disliked = pool.paper_vectors(list(profile.disliked))
        want = want - feedback_weight * DISLIKE_WEIGHT * normalize(
            sparse.csr_matrix(disliked.sum(axis=0))
        )
    weights = np.asarray(sparse.csr_matrix(want).todense(), dtype=np.float32).ravel()
    if picked:
        in_edition = np.asarray(pool.matrix[list(picked)].sum(axis=0), dtype=np.float32).ravel()
        weights = weights * in_edition
    return Weights(_terms(pool, weights, profile), _papers(pool, liked, profile.liked, picked))


def _terms(
    pool: CandidatePool, weights: npt.NDArray[np.float32], profile: SubscriberProfile
) -> list[str]:
    names = _names.get(pool)
    if names is None:
        names = _names[pool] = pool.vectorizer.get_feature_names_out()
    order = np.argsort(-weights, kind="stable")
    chosen: list[str] = []
    for index in order[: TERMS_SHOWN * 6]:
        if weights[index] <= 0 or len(chosen) >= TERMS_SHOWN:
            break
        term = _readable(str(names[index]), profile, pool)
        if not term or any(term in other.split() or other in term.split() for other in chosen):
            continue  # "robot" says nothing "robot hand" does not
        if any(term.replace(" ", "") == other.replace(" ", "") for other in chosen):
            continue  # "multiagent" and "multi agent"
        chosen.append(term)
    return chosen


def _readable(feature: str, profile: SubscriberProfile, pool: CandidatePool) -> str:
    """A feature as the reader would write it: `cat:cs.ro` is cs.RO, an author their name."""
    if feature.startswith(CATEGORY_PREFIX):
        code = feature.removeprefix(CATEGORY_PREFIX)
        spelled = [*profile.follows.categories, *(c for t in profile.liked for c in t.categories)]
        return next((c for c in spelled if c.lower() == code), code)
    if feature.startswith(AUTHOR_PREFIX):
        name = feature.removeprefix(AUTHOR_PREFIX)
        spelled = [*profile.follows.authors, *(a for t in profile.liked for a in t.authors)]
        spelled += [a for paper in pool.papers for a in paper.text.authors]
        return next(
            (a for a in spelled if " ".join(a.lower().replace(".", " ").split()) == name),
            name.title(),
        )
    return feature


def _papers(
    pool: CandidatePool,
    liked_rows: sparse.csr_matrix | None,
    liked: Sequence[PaperText],
    picked: Sequence[int],
) -> list[PaperText]:
    if liked_rows is None or not picked:
        return []
    similar = normalize(liked_rows) @ normalize(pool.matrix[list(picked)]).T
    closeness = np.asarray(similar.sum(axis=1)).ravel()
    order = np.argsort(-closeness, kind="stable")
    found: list[PaperText] = []
    for index in order:
        if closeness[index] <= 0 or len(found) >= PAPERS_SHOWN:
            break
        if liked[index] not in found:
            found.append(liked[index])
    return found
