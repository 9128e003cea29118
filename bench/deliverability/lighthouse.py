"""Lighthouse (npm, 12.2.3: the last that runs on Node 20) in Debian's Chromium."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from bench.deliverability.tools import CHROMIUM, node_module, program

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-background-networking --disable-gpu"


@dataclass(frozen=True)
class Scores:
    categories: dict[str, int]
    failing: list[str]  # audits of a weighted category that did not pass


def audit(url: str) -> Scores:
    cli = node_module("lighthouse", "cli", "index.js")
    command = [program("node"), str(cli), url, "--output=json", "--output-path=stdout"]
    command += ["--quiet", f"--chrome-flags={CHROME_FLAGS}"]
    command += [f"--only-categories={','.join(CATEGORIES)}"]
    answer = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        check=True,
    )
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
    return Scores(categories, failing)
