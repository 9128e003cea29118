"""Helpers for the source tests: payload files, mock transports and a real local HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
DAY = date(2026, 11, 20)
API_URL = "http://hf.test"


def payload(name: str) -> bytes:
    """The bytes of tests/payloads/<name>.json."""
    return (PAYLOADS / f"{name}.json").read_bytes()


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    """An httpx client whose requests are answered by `handler`, in process."""
    return httpx.Client(transport=httpx.MockTransport(handler))


def json_answer(body: bytes, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return handler


@dataclass
class Answer:
    """What the local server answers to every GET."""

    status: int = 200
    body: bytes = b"[]"
    content_type: str = "application/json"
    delay_seconds: float = 0.0


@dataclass
class LocalServer:
    """A real HTTP server on 127.0.0.1 that records what it was asked."""

    url: str
    answer: Answer
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)


@contextmanager
def local_server(answer: Answer) -> Iterator[LocalServer]:
    """Serve `answer` on a free port in a background thread for the duration of the block."""
    state = LocalServer(url="", answer=answer)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            # Interruptible, so a "slow server" test does not hold up teardown.
            state.stopping.wait(state.answer.delay_seconds)
            try:
                self.send_response(state.answer.status)
                self.send_header("Content-Type", state.answer.content_type)
                self.send_header("Content-Length", str(len(state.answer.body)))
                self.end_headers()
                self.wfile.write(state.answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first, which is what a timeout test wants

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
