"""axe-core (the engine shipped in the axe-playwright-python wheel) run on a page in Chromium."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from playwright.sync_api import Page

AXE_SOURCE = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[str]:
    """Each violation as `rule (impact): the elements`, for a readable failure; [] if none."""
    page.evaluate(AXE_SOURCE)  # evaluated through the DevTools protocol: the CSP allows it
    results: dict[str, Any] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r)"
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in results["violations"]
    ]
