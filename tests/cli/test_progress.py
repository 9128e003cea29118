"""`digest send`'s counting off a terminal, on a real rich console writing to a buffer."""

from __future__ import annotations

import io

from rich.console import Console

from digest.cli.progress import SendProgress


def plain_console(buffer: io.StringIO) -> Console:
    return Console(file=buffer, width=10_000, soft_wrap=True)  # a file: not a terminal


def test_a_line_per_tenth_and_the_last_count_once() -> None:
    buffer = io.StringIO()
    with SendProgress(plain_console(buffer)) as progress:
        progress.planned(25)
        for _ in range(25):
            progress.advance(1)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "sending: 25 planned"
    assert lines[1:] == [f"sending: {n}/25" for n in (3, 6, 9, 12, 15, 18, 21, 24, 25)]


def test_rows_taken_over_raise_the_total_and_nothing_planned_prints_nothing() -> None:
    buffer = io.StringIO()
    with SendProgress(plain_console(buffer)) as progress:
        progress.planned(3)
        progress.advance(2)
        progress.advance(2)
    assert buffer.getvalue().splitlines() == ["sending: 3 planned", "sending: 2/3", "sending: 4/4"]
    quiet = io.StringIO()
    with SendProgress(plain_console(quiet)) as progress:
        progress.planned(0)
    assert quiet.getvalue() == ""
