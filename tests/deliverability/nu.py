"""The W3C Nu HTML checker (vnu.jar from npm's `vnu-jar`, on Debian's Java): many documents
in one JVM, since starting one takes seconds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where `.ci/install-checkers` puts it; DIGEST_VNU_JAR points elsewhere.
DEFAULT_JAR = ROOT / ".tools" / "vnu" / "vnu.jar"


class NuMissing(RuntimeError):
    """vnu.jar or Java is not installed."""


@dataclass(frozen=True)
class Problem:
    document: str
    line: int | None
    message: str
    extract: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "document"
        return f"{self.document} {where}: {self.message} [{self.extract.strip()[:80]}]"


def vnu_command() -> list[str]:
    jar = Path(os.environ.get("DIGEST_VNU_JAR") or DEFAULT_JAR)
    java = shutil.which("java")
    missing = [
        what for what, ok in (("Java", java), (f"vnu.jar at {jar}", jar.is_file())) if not ok
    ]
    if missing:
        raise NuMissing(
            f"{' and '.join(missing)} missing: `bash .ci/install-checkers` installs Debian's "
            "default-jre-headless and npm's vnu-jar (the README's `bash .ci/run` runs it)"
        )
    assert java is not None
    return [java, "-Xss4m", "-jar", str(jar)]


def check_html(documents: dict[str, bytes], folder: Path) -> list[Problem]:
    """Every error (not warning) the checker finds in the named HTML documents."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    paths: list[str] = []
    for number, (name, html) in enumerate(documents.items()):
        path = folder / f"{number:03d}.html"
        path.write_bytes(html)
        names[path.resolve().as_uri()] = name
        paths.append(str(path))
    run = subprocess.run(
        [*vnu_command(), "--errors-only", "--format", "json", "--exit-zero-always", *paths],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(run.stderr or run.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"vnu.jar did not answer in JSON: {run.stderr[-2000:]}") from None
    problems = []
    for message in report.get("messages", []):
        if message.get("type") not in ("error", "non-document-error"):
            continue
        url = message.get("url", "")
        document = names.get(url) or names.get(url.replace("file:/", "file:///", 1)) or url
        problems.append(
            Problem(
                document, message.get("lastLine"), message["message"], message.get("extract", "")
            )
        )
    return problems
