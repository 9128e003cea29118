"""How far `digest send` has got: a bar on a terminal, a few plain lines off one."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

PLAIN_STEPS = 10  # off a terminal, one line per tenth of the run


class SendProgress:
    """Counts messages against the planned total (raised if takeovers add rows)."""

    def __init__(self, console: Console, label: str = "sending") -> None:
        self.console = console
        self.label = label
        self.total: int | None = None
        self.done = 0
        self._next_line = 0
        self._shown = 0  # the count the last plain line gave
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> SendProgress:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, trace)
        elif kind is None and self.total and self.done != self._shown:
            self._line()  # the last count, when the run ended between two tenths

    def planned(self, total: int) -> None:
        """The number of messages this run has to handle, known once it has planned."""
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)
        elif total:
            self.console.print(f"{self.label}: {total} planned")
            self._next_line = self._step()

    def advance(self, count: int) -> None:
        self.done += count
        if self.total is not None and self.done > self.total:
            self.total = self.done  # rows taken over from a sender that stopped
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, total=self.total)
        elif self.total and self.done >= self._next_line:
            self._line()

    def note(self, line: str) -> None:
        """A line printed above the bar, or between the plain lines."""
        self.console.print(line, soft_wrap=True)

    def _line(self) -> None:
        self.console.print(f"{self.label}: {self.done}/{self.total}")
        self._shown = self.done
        self._next_line = self.done + self._step()

    def _step(self) -> int:
        return max(1, -(-(self.total or 0) // PLAIN_STEPS))
