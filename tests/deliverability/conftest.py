"""What the deliverability tests share, made once per test run however many pytest-xdist
workers ask: every email kind as sent, the store it was sent from, and SpamAssassin's
verdicts (spamd takes seconds to start and seconds to read a large digest)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from digest.settings import Settings
from tests.conftest import free_port
from tests.deliverability.mailings import Caught, production_settings, send_every_kind
from tests.deliverability.spamassassin import Verdict, relayed, running_spamd
from tests.render.factories import dkim_test_key

RELAYS = ("as sent", "relay with reverse DNS", "relay without reverse DNS")


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder all workers of this run share (xdist), else this process's own."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "deliverability"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _once(folder: Path, name: str, produce: Callable[[], Any]) -> Any:
    """`produce()` (JSON) by the first worker to get here; the others read what it kept."""
    kept = folder / f"{name}.json"
    with (folder / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            kept.write_text(json.dumps(produce()), encoding="utf-8")
    return json.loads(kept.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run_folder(tmp_path_factory)


@pytest.fixture(scope="session")
def mailings(shared_folder: Path) -> dict[str, Caught]:
    """Every email kind, by name, as our SMTP server received it (the store it was sent
    from stays in `shared_folder`/made)."""

    def send() -> list[dict[str, Any]]:
        made = shared_folder / "made"
        made.mkdir(exist_ok=True)
        caught = send_every_kind(made, free_port(), dkim_test_key().pem)
        return [
            {"kind": c.kind, "from": c.mail_from, "to": list(c.rcpt_tos),
             "data": base64.b64encode(c.data).decode()}
            for c in caught.values()
        ]  # fmt: skip

    return {
        row["kind"]: Caught(
            row["kind"], row["from"], tuple(row["to"]), base64.b64decode(row["data"])
        )
        for row in _once(shared_folder, "mailings", send)
    }


@pytest.fixture
def mail_settings(mailings: dict[str, Caught], shared_folder: Path, tmp_path: Path) -> Settings:
    """Production-like settings over a copy of the store the mail was sent from."""
    made = shared_folder / "made"
    shutil.copyfile(made / "digest.db", tmp_path / "digest.db")
    return production_settings(tmp_path, free_port(), (made / "dkim.pem").read_bytes())


@pytest.fixture(scope="session")
def spam_verdicts(
    mailings: dict[str, Caught], shared_folder: Path
) -> dict[str, dict[str, Verdict]]:
    """SpamAssassin's verdict on each kind: as sent, and as an MX stores it after a relay
    with and without reverse DNS."""

    def scan() -> dict[str, dict[str, dict[str, float]]]:
        found: dict[str, dict[str, dict[str, float]]] = {}
        with running_spamd(free_port(), shared_folder / "spamd.log") as spamd:
            for kind, c in mailings.items():
                to = c.rcpt_tos[0]
                variants = {
                    RELAYS[0]: c.data,
                    RELAYS[1]: relayed(c.data, c.mail_from, to, rdns=True),
                    RELAYS[2]: relayed(c.data, c.mail_from, to, rdns=False),
                }
                found[kind] = {how: spamd.check(data).rules for how, data in variants.items()}
        return found

    return {
        kind: {how: Verdict(rules) for how, rules in by_relay.items()}
        for kind, by_relay in _once(shared_folder, "spamassassin", scan).items()
    }
