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

from digest.sources.http import PoliteHttp, RetryPolicy

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
DAY = date(2026, 11, 20)
API_URL = "http://hf.test"


def payload(name: str) -> bytes:
    """The bytes of tests/payloads/<name> (`.json` when no suffix is given)."""
    return (PAYLOADS / (name if "." in name else f"{name}.json")).read_bytes()


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    """An httpx client whose requests are answered by `handler`, in process."""
    return httpx.Client(transport=httpx.MockTransport(handler))


@dataclass
class Pauses:
    """The waits a PoliteHttp asked for, instead of sleeping through them."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def polite(
    client: httpx.Client, attempts: int = 3, pauses: Pauses | None = None, **policy: float
) -> PoliteHttp:
    """A PoliteHttp over `client` that records its backoff pauses instead of sleeping."""
    return PoliteHttp(client, RetryPolicy(attempts=attempts, **policy), sleep=pauses or Pauses())


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
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[str, dict[str, str]], Answer]


@dataclass
class LocalServer:
    """A real HTTP server on 127.0.0.1 that records what it was asked."""

    url: str
    answer: Answer | Route
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)


@contextmanager
def local_server(answer: Answer | Route) -> Iterator[LocalServer]:
    """Serve `answer` (or what a route gives for the path and headers) on a free port."""
    state = LocalServer(url="", answer=answer)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.path, headers))
            answer = (
                state.answer
                if isinstance(state.answer, Answer)
                else state.answer(self.path, headers)
            )
            # Interruptible, so a "slow server" test does not hold up teardown.
            state.stopping.wait(answer.delay_seconds)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                body = b"" if answer.status == 304 else answer.body
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
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
