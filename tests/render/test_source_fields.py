"""What Hugging Face gives reaches the digest: fetched by the `digest` command from a local
stand-in for the API, stored, and previewed for a subscriber."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import free_port, run_digest

PAYLOAD = Path(__file__).resolve().parents[1] / "payloads" / "hf_daily_papers_new_shape.json"


@pytest.fixture
def hf_api() -> Iterator[str]:
    """An HTTP server answering every daily-papers request with the recorded payload."""
    body = PAYLOAD.read_bytes()

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_summary_keywords_organisation_and_hf_page_reach_the_preview(
    hf_api: str, tmp_path: Path
) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_HF_API_URL": hf_api,
        "DIGEST_SECRET_KEY": "test-secret-key-for-the-preview-0123456789",
        "DIGEST_EMBEDDING_MODEL": "off",
    }
    steps = [
        ["db", "upgrade"],
        ["fetch", "--date", "2026-11-20", "--source", "hf"],
        ["subscribers", "add", "reader@example.org", "--confirmed"],
        ["preview", "reader@example.org", "--day", "2026-11-20", "--out", "preview.html"],
    ]
    for args in steps:
        done = run_digest(args, env, tmp_path)
        assert done.returncode == 0, (args, done.stderr)
    markup = (tmp_path / "preview.html").read_text(encoding="utf-8")
    page = html.unescape(" ".join(markup.split()))

    assert "TL;DR</b>" in page and "(machine-written)" in page
    assert "Easy tokens skip layers, saving compute." in page
    assert "Keywords: token routing, efficiency" in page  # "Token Routing" and "" dropped
    assert "Ada Quinlan, Bo Chen; Example Lab" in page
    assert 'href="https://huggingface.co/papers/2611.00101"' in page
    assert "<img" not in page  # thumbnails stay off unless the operator turns them on
