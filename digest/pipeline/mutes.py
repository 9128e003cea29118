"""What the page and the command line say when a mute meets a follow: the mute wins."""

from __future__ import annotations

from collections.abc import Sequence

from digest.rank.features import Follows
from digest.rank.mutes import Mutes, conflicts


def mute_conflicts(
    topics: Sequence[str],
    authors: Sequence[str],
    muted: Sequence[str],
    muted_authors: Sequence[str],
) -> list[str]:
    """One sentence per follow that a mute overrides ("…: muted wins, …"), in their order."""
    follows = Follows(topics=tuple(topics), authors=tuple(authors))
    mutes = Mutes(phrases=tuple(muted), authors=tuple(muted_authors))
    return [conflict.sentence() for conflict in conflicts(follows, mutes)]
