"""The `with` block every sender supports: it closes the sender when the block ends."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closes:
    """Subclasses define `close()`; `with sender:` then closes it whatever happens."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        return None
