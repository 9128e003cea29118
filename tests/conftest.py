"""Shared fixtures: a store on SQLite and PostgreSQL, settings, and a real SMTP server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import freezegun
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Base

POSTGRES_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _redis_database() -> int:
    """Redis database number of this test process: 1 alone, 2, 3, … for xdist's gw0, gw1, …

    Parallel workers then never share a queue, a rate-limit bucket or a lock (database 0 is
    left to whatever else runs on the machine)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    number = int(worker.removeprefix("gw")) + 1 if worker.startswith("gw") else 0
    return 1 + number % 15


REDIS_SERVER = os.environ.get("DIGEST_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_URL = f"{REDIS_SERVER}/{_redis_database()}"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"

# Entering freeze_time visits every attribute of every loaded module (about half a second
# once torch and scikit-learn are loaded); these packages hold no clock a test freezes.
freezegun.configure(
    extend_ignore_list=[
        "torch", "transformers", "sentence_transformers", "tokenizers", "safetensors",
        "huggingface_hub", "sklearn", "scipy", "numpy", "sympy", "networkx", "playwright",
    ]
)  # fmt: skip

E2E = Path(__file__).resolve().parent / "e2e"
DELIVERABILITY = Path(__file__).resolve().parent / "deliverability"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the real parts they use, so `-m` can pick a part of the suite."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        if DELIVERABILITY in item.path.parents:
            item.add_marker(pytest.mark.deliverability)
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres or "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - reported as a failure, never skipped
        pytest.fail(f"PostgreSQL is required for the store tests ({POSTGRES_URL}): {exc}")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'digest.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def reset_schema(database: Database) -> None:
    """Drop every table, Alembic's bookkeeping and tables of older revisions' names included
    (the PostgreSQL database is shared)."""
    found = MetaData()
    found.reflect(database.engine)
    found.drop_all(database.engine)


def _has_current_schema(database: Database) -> bool:
    """Whether the database holds exactly the models' tables, with their columns (no test
    dropped, altered or migrated them)."""
    expected = {table.name: len(table.columns) for table in Base.metadata.tables.values()}
    with database.engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT table_name, count(*) FROM information_schema.columns"
            " WHERE table_schema = current_schema() GROUP BY table_name"
        ).all()
    return dict(found) == expected


def _empty_tables(database: Database) -> None:
    """Delete every row, restart every sequence and analyze (the planner then believes the
    tables empty, as new ones): as good as a new schema, in a fraction of the time of
    dropping and creating a dozen tables on PostgreSQL."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with database.engine.begin() as connection:
        for table in tables:
            connection.execute(table.delete())
        sequences = connection.exec_driver_sql(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
        ).scalars()
        for sequence in list(sequences):
            connection.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')
        connection.exec_driver_sql("ANALYZE " + ", ".join(f'"{t.name}"' for t in tables))


def _make_empty(database: Database) -> None:
    if database.engine.dialect.name == "postgresql" and _has_current_schema(database):
        _empty_tables(database)
    else:
        reset_schema(database)
        Base.metadata.create_all(database.engine)


@contextmanager
def empty_store(url: str) -> Iterator[Database]:
    """An empty store with the current schema; emptied again afterwards (on PostgreSQL the
    tables stay, without rows, for the next test; a test that changed them leaves none)."""
    database = Database(url)
    _make_empty(database)
    yield database
    if database.engine.dialect.name == "postgresql" and _has_current_schema(database):
        _empty_tables(database)
    else:
        reset_schema(database)
    database.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """An empty store with the current schema, on SQLite and on PostgreSQL."""
    with empty_store(database_url) as database:
        yield database


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[Database]:
    """An empty store on PostgreSQL only, for what only PostgreSQL does (dropped
    connections, the stricter text type)."""
    with empty_store(postgres_url) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """An empty SQLite store, for tests that are not about the database backend."""
    database = Database(f"sqlite:///{tmp_path / 'digest.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) in the test process that keeps what it receives."""

    host: str
    port: int
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [
                m
                for m, (_, rcpts) in zip(self.received, self.envelopes, strict=True)
                if address in rcpts
            ]

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.original_content  # type: ignore[attr-defined]
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(message)
            self.envelopes.append(
                (envelope.mail_from, list(envelope.rcpt_tos))  # type: ignore[attr-defined]
            )
        return "250 OK"


class ScriptedSmtp:
    """An aiosmtpd handler that answers each recipient as `refusal` says (None accepts)."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    def refusal(self, address: str) -> str | None:
        return None

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        refused = self.refusal(address)
        if refused is not None:
            return refused
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.accepted.extend(envelope.rcpt_tos)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def settings(tmp_path: Path, smtp_sink: SmtpSink) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'digest.db'}",
        mail_url=smtp_sink.url,
        secret_key=TEST_SECRET,
        base_url="https://digest.example.org",
        DIGEST_FROM="Trending Papers <digest@example.org>",
        hf_api_url="http://hf.invalid",
        arxiv_api_url="http://arxiv.invalid",  # a seed paper's look-up never leaves the host
        broker_url=REDIS_URL,  # this test process's own Redis database
        contact="ops@example.org",
    )


@contextmanager
def serve_in_thread(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """A real uvicorn server for `app` on a loopback port (a free one by default); yields
    its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,  # the access log would record tokens from query strings
            lifespan="on",  # the app starts and stops its outbox sender with it
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's; the browser download step does not work here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium driven by Playwright; screenshots go to test-artifacts/."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Loading the sentence-embedding model costs a `digest` process seconds of CPU; command
# tests not about ranking run without it (tests/store and tests/bench run the model).
WITHOUT_MODEL = {"DIGEST_EMBEDDING_MODEL": "off"}


def run_digest(
    args: list[str], env: dict[str, str], cwd: Path, *, semantic: bool = False
) -> subprocess.CompletedProcess[str]:
    """The `digest` command in a real process, as an operator runs it (without the embedding
    model unless `semantic` or `env` names one)."""
    return subprocess.run(
        [sys.executable, "-c", "from digest.cli import main; main()", *args],
        env={**os.environ, **({} if semantic else WITHOUT_MODEL), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
