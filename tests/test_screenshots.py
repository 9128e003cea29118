"""keep_screenshot takes a screenshot again when Chromium fails to capture one, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Error

from tests import screenshots
from tests.screenshots import keep_screenshot


class Flaky:
    """An element whose first `failures` screenshots fail with `message`."""

    def __init__(self, failures: int, message: str) -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def screenshot(self, path: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise Error(self.message)
        Path(path).write_bytes(b"png")


def test_a_failed_capture_is_taken_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screenshots, "PAUSE_SECONDS", 0)
    element = Flaky(2, "Protocol error (Page.captureScreenshot): Unable to capture screenshot")
    keep_screenshot(element, tmp_path / "shot.png")  # type: ignore[arg-type]
    assert element.calls == 3
    assert (tmp_path / "shot.png").read_bytes() == b"png"


def test_other_errors_and_a_capture_that_always_fails_still_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screenshots, "PAUSE_SECONDS", 0)
    closed = Flaky(1, "Target page, context or browser has been closed")
    with pytest.raises(Error, match="closed"):
        keep_screenshot(closed, tmp_path / "a.png")  # type: ignore[arg-type]
    assert closed.calls == 1
    never = Flaky(99, "Unable to capture screenshot")
    with pytest.raises(Error, match="Unable to capture"):
        keep_screenshot(never, tmp_path / "b.png")  # type: ignore[arg-type]
    assert never.calls == screenshots.ATTEMPTS
