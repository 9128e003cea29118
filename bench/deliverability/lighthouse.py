"""Lighthouse (npm, 12.2.3: the last that runs on Node 20) in Debian's Chromium."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

from bench.deliverability.tools import CHROMIUM, node_module, program

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-background-networking --disable-gpu"


ATTEMPTS = 2  # Chromium sometimes fails to start on a loaded machine
NOINDEX_AUDIT = "is-crawlable"  # fails by design on a page that asks not to be indexed


@dataclass(frozen=True)
class Scores:
    categories: dict[str, int]
    failing: list[str]  # audits of a weighted category that did not pass
    seo_if_indexable: int  # the SEO score without the is-crawlable audit


def audit(url: str) -> Scores:
    cli = node_module("lighthouse", "cli", "index.js")
    command = [program("node"), str(cli), url, "--output=json", "--output-path=stdout"]
    command += ["--quiet", f"--chrome-flags={CHROME_FLAGS}"]
    command += [f"--only-categories={','.join(CATEGORIES)}"]
    for attempt in range(ATTEMPTS):
        answer = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "CHROME_PATH": CHROMIUM},
        )
        if answer.returncode == 0:
            break
        if attempt == ATTEMPTS - 1:
            raise RuntimeError(f"lighthouse {url} failed: {answer.stderr.strip()[-2000:]}")
    report = json.loads(answer.stdout)
    categories = {
        name: round(100 * (report["categories"][name]["score"] or 0)) for name in CATEGORIES
    }
    weighted = {
        ref["id"]
        for name in CATEGORIES
        for ref in report["categories"][name]["auditRefs"]
        if ref["weight"] > 0
    }
    failing = sorted(
        audit_id
        for audit_id, found in report["audits"].items()
        if audit_id in weighted and found.get("score") is not None and found["score"] < 1
    )
    return Scores(categories, failing, _without(report, "seo", NOINDEX_AUDIT))


def _without(report: dict[str, Any], category: str, left_out: str) -> int:
    """A category's score as Lighthouse weighs it (audits without a score do not count),
    leaving one audit out."""
    weighted = [
        (ref["weight"], report["audits"][ref["id"]].get("score"))
        for ref in report["categories"][category]["auditRefs"]
        if ref["id"] != left_out and ref["weight"] > 0
    ]
    scored = [(weight, score) for weight, score in weighted if score is not None]
    total = sum(weight for weight, _ in scored)
    return round(100 * sum(weight * score for weight, score in scored) / total) if total else 0
