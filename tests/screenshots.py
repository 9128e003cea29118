"""Screenshots the browser tests keep for a person to look at, taken again when Chromium
fails to capture one.

A screenshot is an artefact, not a check: headless Chromium on a loaded machine now and then
answers "Unable to capture screenshot" for a page that rendered, and a test must not fail
for that. Any other error, or the same one every time, still fails it.
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Error, Locator, Page

ATTEMPTS = 3
PAUSE_SECONDS = 0.5


def keep_screenshot(target: Page | Locator, path: Path) -> None:
    """A screenshot of `target` (a whole page, or one element) written to `path`."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            if isinstance(target, Page):
                target.screenshot(path=str(path), full_page=True)
            else:
                target.screenshot(path=str(path))
            return
        except Error as error:
            if "Unable to capture screenshot" not in str(error) or attempt == ATTEMPTS:
                raise
            time.sleep(PAUSE_SECONDS)
