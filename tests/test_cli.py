"""The `digest` command as an operator runs it: real processes, exit codes, messages."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET, SmtpSink, free_port
from tests.conftest import run_digest as run


@pytest.fixture
def cli_env(tmp_path: Path, smtp_sink: SmtpSink) -> dict[str, str]:
    return {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_HF_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: offline
    }


def test_demo_runs_offline_and_leaves_mail_to_open(tmp_path: Path) -> None:
    env = {"DIGEST_HF_API_URL": f"http://127.0.0.1:{free_port()}"}
    result = run(["demo", "--dir", str(tmp_path / "demo")], env, tmp_path, semantic=True)
    assert result.returncode == 0, result.stderr
    assert "sample" in result.stdout
    mail = tmp_path / "demo" / "mail"
    messages = [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(mail.glob("*.eml"))
    ]
    confirmations = [m for m in messages if "List-Unsubscribe" not in m]
    digests = [m for m in messages if "List-Unsubscribe" in m]
    assert len(confirmations) == 2
    assert sorted(str(m["To"]) for m in digests) == [
        "ada@example.org",
        "grace@example.org",
        "lab-list@example.org",
    ]
    assert len(list(mail.glob("*.html"))) == len(messages)
    assert str(mail) in result.stdout
    # Running it again starts over rather than failing or piling up.
    again = run(["demo", "--dir", str(tmp_path / "demo")], env, tmp_path, semantic=True)
    assert again.returncode == 0, again.stderr
    assert len(list(mail.glob("*.eml"))) == len(messages)


def test_operator_commands_round_trip(
    cli_env: dict[str, str], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    # As an operator runs it: with the embedding model, as the other command tests are not.
    assert run(["db", "upgrade"], cli_env, tmp_path, semantic=True).returncode == 0
    fetched = run(["fetch", "--source", "sample"], cli_env, tmp_path, semantic=True)
    assert fetched.returncode == 0, fetched.stderr
    added = run(
        ["subscribers", "add", "Ops@Example.org", "--confirmed", "--send-hour", "0"],
        cli_env,
        tmp_path,
        semantic=True,
    )
    assert added.returncode == 0 and "ops@example.org: active" in added.stdout
    assert (
        "ops@example.org" in run(["subscribers", "list"], cli_env, tmp_path, semantic=True).stdout
    )

    preview = run(["preview", "ops@example.org"], cli_env, tmp_path, semantic=True)
    assert preview.returncode == 0, preview.stderr
    assert "unsubscribe" in preview.stdout.lower()
    assert smtp_sink.received == []  # preview sends nothing

    dry = run(["send", "--dry-run"], cli_env, tmp_path, semantic=True)
    assert dry.returncode == 0 and "would send 1" in dry.stdout
    assert smtp_sink.received == []
    sent = run(["send"], cli_env, tmp_path, semantic=True)
    assert sent.returncode == 0 and "sent 1" in sent.stdout, sent.stdout + sent.stderr
    assert "sent 0" in run(["send"], cli_env, tmp_path, semantic=True).stdout
    assert len(smtp_sink.received) == 1

    stats = run(["stats"], cli_env, tmp_path, semantic=True)
    assert "active 1" in stats.stdout and "sent 1" in stats.stdout


@pytest.mark.parametrize(
    ("args", "env_update", "message"),
    [
        (["send", "--day", "25/11/2026"], {}, "--day must be a date"),
        (["preview", "a@example.org", "--day", "2026-13-01"], {}, "--day must be a date"),
        (["fetch", "--source", "nowhere"], {}, "nowhere"),
        (["subscribers", "add", "not-an-address"], {}, "@"),
        (
            ["stats"],
            {"DIGEST_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
            "unreachable",
        ),
        (["stats"], {"DIGEST_MAIL_URL": "http://mail"}, "DIGEST_MAIL_URL"),
        (
            ["stats"],
            {"DIGEST_ENV": "production", "DIGEST_SECRET_KEY": "changeme"},
            "DIGEST_SECRET_KEY",
        ),
    ],
)
def test_expected_errors_are_one_line_without_traceback(
    cli_env: dict[str, str],
    tmp_path: Path,
    args: list[str],
    env_update: dict[str, str],
    message: str,
) -> None:
    run(["db", "upgrade"], cli_env, tmp_path)
    result = run(args, {**cli_env, **env_update}, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_operators_edit_what_a_subscriber_follows(cli_env: dict[str, str], tmp_path: Path) -> None:
    run(["db", "upgrade"], cli_env, tmp_path)
    run(["subscribers", "add", "reader@example.org", "--confirmed"], cli_env, tmp_path)
    changed = run(
        [
            "subscribers", "follow", "Reader@Example.org", "--topics", "diffusion, agents",
            "--categories", "cs.CL", "--authors", "Ada Lovelace", "--papers", "5",
        ],
        cli_env,
        tmp_path,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "topics [diffusion, agents]" in changed.stdout and "5 papers" in changed.stdout
    listed = run(["subscribers", "list"], cli_env, tmp_path).stdout
    assert "cs.CL" in listed and "Ada Lovelace" in listed
    bad = run(["subscribers", "follow", "reader@example.org", "--categories", "not a category"],
              cli_env, tmp_path)  # fmt: skip
    assert bad.returncode == 1 and "arXiv category" in bad.stderr
    cleared = run(
        ["subscribers", "follow", "reader@example.org", "--topics", ""], cli_env, tmp_path
    )
    assert "topics []" in cleared.stdout and "categories [cs.CL]" in cleared.stdout


def test_serve_starts_the_web_app_in_its_own_processes(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    import httpx

    run(["db", "upgrade"], cli_env, tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "serve",
         "--port", str(port), "--workers", "2", "--send-inline"],
        env={**os.environ, **cli_env}, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # starting takes long only on a loaded machine
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "digest serve did not start"
                time.sleep(0.2)
        assert response.status_code == 200
        assert "Subscribe" in httpx.get(f"http://127.0.0.1:{port}/").text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_refuses_an_unreachable_database_in_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "DIGEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = run(["serve", "--port", str(free_port())], env, tmp_path)
    assert result.returncode == 1
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr
