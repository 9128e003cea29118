"""Every email kind as sent, made once per test run (pytest-xdist workers share it), and the
ports and folders the outside tools run on."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.settings import Settings
from tests.conftest import free_port
from tests.deliverability.mailings import Caught, production_settings, send_every_kind
from tests.deliverability.spamassassin import Spamd, running_spamd
from tests.render.factories import dkim_test_key


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder all workers of this run share (xdist), else this process's own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _made_once(folder: Path) -> dict[str, Caught]:
    """The first worker to get here sends the emails; the others read what it kept (the
    store they were sent from stays in `folder`/made)."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / "caught.json"
    with (folder / "caught.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.exists():
            made = folder / "made"
            made.mkdir(exist_ok=True)
            caught = send_every_kind(made, free_port(), dkim_test_key().pem)
            rows = [
                {
                    "kind": c.kind,
                    "mail_from": c.mail_from,
                    "rcpt_tos": list(c.rcpt_tos),
                    "data": base64.b64encode(c.data).decode(),
                }
                for c in caught.values()
            ]
            kept.write_text(json.dumps(rows), encoding="utf-8")
    rows = json.loads(kept.read_text(encoding="utf-8"))
    return {
        row["kind"]: Caught(
            row["kind"], row["mail_from"], tuple(row["rcpt_tos"]), base64.b64decode(row["data"])
        )
        for row in rows
    }


@pytest.fixture(scope="session")
def mail_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run_folder(tmp_path_factory) / "deliverability-mail"


@pytest.fixture(scope="session")
def mailings(mail_folder: Path) -> dict[str, Caught]:
    """Every email kind, by name, as our SMTP server received it."""
    return _made_once(mail_folder)


@pytest.fixture
def mail_settings(mailings: dict[str, Caught], mail_folder: Path, tmp_path: Path) -> Settings:
    """Production-like settings over a copy of the store the mail was sent from."""
    made = mail_folder / "made"
    shutil.copyfile(made / "digest.db", tmp_path / "digest.db")
    return production_settings(tmp_path, free_port(), (made / "dkim.pem").read_bytes())


@pytest.fixture(scope="session")
def spamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spamd]:
    log = tmp_path_factory.mktemp("spamd") / "spamd.log"
    with running_spamd(free_port(), log) as server:
        yield server
