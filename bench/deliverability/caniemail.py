"""caniemail's support data on the emails' HTML, for the client families most readers use."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.deliverability.tools import NPM, node_module, program

# caniemail's names for Gmail (web, iOS, Android), Outlook (Windows, Mac, web), Apple Mail
# (macOS, iOS) and Yahoo (web, iOS, Android).
CLIENTS = {
    "Gmail web": "gmail.desktop-webmail",
    "Gmail iOS": "gmail.ios",
    "Gmail Android": "gmail.android",
    "Outlook Windows": "outlook.windows",
    "Outlook Mac": "outlook.macos",
    "Outlook web": "outlook.outlook-com",
    "Apple Mail macOS": "apple-mail.macos",
    "Apple Mail iOS": "apple-mail.ios",
    "Yahoo web": "yahoo.desktop-webmail",
    "Yahoo iOS": "yahoo.ios",
    "Yahoo Android": "yahoo.android",
}


def support(
    documents: dict[str, bytes], folder: Path
) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    """By document and client family: (features not supported, supported in part)."""
    node_module("caniemail")
    script = NPM / "caniemail-report.mjs"  # beside node_modules, where `import` finds it
    shutil.copyfile(Path(__file__).with_name("caniemail.mjs"), script)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, html in documents.items():
        path = folder / f"{name}.html"
        path.write_bytes(html)
        files[str(path)] = name
    answer = subprocess.run(
        [program("node"), str(script), json.dumps(list(CLIENTS.values())), *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(answer.stdout)
    return {
        files[path]: {
            family: (found["errors"].get(client, []), found["warnings"].get(client, []))
            for family, client in CLIENTS.items()
        }
        for path, found in report.items()
    }
