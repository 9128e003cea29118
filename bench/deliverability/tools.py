"""Where the bench's npm tools live (.tools/npm, put there by `.ci/install-checkers --bench`)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NPM = ROOT / ".tools" / "npm"
CHROMIUM = "/usr/bin/chromium"
INSTALL = "bash .ci/install-checkers --bench"


class ToolMissing(RuntimeError):
    """A tool the bench runs is not installed."""


def node_module(*parts: str) -> Path:
    path = NPM.joinpath("node_modules", *parts)
    if not path.exists():
        raise ToolMissing(f"{path} is missing: `{INSTALL}` installs the bench's tools")
    return path


def program(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if found is None:
        raise ToolMissing(f"{name} is not installed: `{INSTALL}` installs the bench's tools")
    return found
