"""`digest serve` on its own, as a new user runs it: no Redis listening, no --send-inline.

Subscribe over HTTP, receive the confirmation in a real SMTP server, confirm with the
button, and receive the next digest: the web process sends its own subscriber emails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET, SmtpSink, free_port, run_digest


@pytest.fixture
def alone(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'alone.db'}",
        "DIGEST_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "DIGEST_HF_API_URL": f"http://127.0.0.1:{free_port()}",
    }
    assert run_digest(["db", "upgrade"], env, tmp_path).returncode == 0
    server = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "serve", "--port", str(port)],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # starting takes long only on a loaded machine
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "digest serve did not start"
                time.sleep(0.2)
        yield url, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for_mail(sink: SmtpSink, address: str, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while len(sink.messages_to(address)) < count:
        assert time.monotonic() < deadline, f"{count} email(s) did not reach {address}"
        time.sleep(0.1)
    texts = []
    for message in sink.messages_to(address):
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        texts.append(str(body.get_content()))
    return texts


def test_serve_alone_subscribes_confirms_and_delivers(
    alone: tuple[str, dict[str, str]], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    url, env = alone
    browser = httpx.Client(base_url=url, timeout=10)

    answered = browser.post("/subscribe", data={"email": "alone@example.org", "timezone": "UTC"})

    assert answered.status_code == 200 and "Check your inbox" in answered.text
    [confirmation] = _wait_for_mail(smtp_sink, "alone@example.org", 1)
    link = re.search(r"/confirm\?token=[\w.\-]+", confirmation)
    assert link, confirmation
    page = browser.get(link.group(0))
    assert ">Confirm</button>" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    confirmed = browser.post(
        link.group(0),
        data={"csrf_token": csrf.group(1)},
        headers={"Origin": url, "Sec-Fetch-Site": "same-origin"},
    )
    assert "You're subscribed" in confirmed.text

    today = datetime.now(UTC).date().isoformat()
    fetched = run_digest(["fetch", "--source", "sample", "--date", today], env, tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    sent = run_digest(["send", "--day", today], env, tmp_path)
    assert sent.returncode == 0, sent.stderr
    texts = _wait_for_mail(smtp_sink, "alone@example.org", 2)
    assert "Unsubscribe" in texts[1] and "More like this: http" in texts[1]
