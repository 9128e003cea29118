"""`digest fetch --source arxiv` against a server answering bytes that used to crash it: each
run ends with papers or one clear line, never a traceback, and nothing stored is lost."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.store.db import Database
from tests.conftest import TEST_SECRET, reset_schema
from tests.conftest import run_digest as digest
from tests.sources.hostile import GOOD_RSS
from tests.sources.support import Answer, local_server
from tests.sources.test_fetch_command import stored_ids
from tests.sources.test_hostile_bytes import UTF7_PAST_200

LG_IDS = ["2611.20901", "2611.20902", "2611.20903"]
QUERY_IDS = ["2611.30901", "2611.30902", "2611.30903"]
FAR_DECLARATION = b"<?xml version='1.0'" + b" " * 220 + b"encoding='utf-7'?>"


def query_answer(ids: list[str]) -> bytes:
    """A query API page (Atom) whose declaration names UTF-7 past 200 characters."""
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><title>Paper {arxiv_id}</title>"
        f"<summary>An abstract.</summary><published>2026-11-18T17:00:00Z</published>"
        f"<author><name>Ada Quinlan</name></author>"
        f'<arxiv:primary_category term="cs.CL"/></entry>'
        for arxiv_id in ids
    )
    return (
        FAR_DECLARATION
        + (
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"'
            ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
            f"<title>query</title><opensearch:totalResults>{len(ids)}</opensearch:totalResults>"
            f"{entries}</feed>"
        ).encode()
    )


def the_error_line(stderr: str) -> str:
    """The one `digest:` line a failed run ends with (log records may come before it)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("digest: ")] == lines[-1:], stderr
    return lines[-1]


def test_answers_that_used_to_crash_fetch_end_in_papers_or_one_line(
    database_url: str, tmp_path: Path
) -> None:
    cut_query = query_answer(QUERY_IDS)
    cut_query = cut_query[: cut_query.index(b"<entry>", cut_query.index(QUERY_IDS[1].encode()))]
    cut_query += b"<entry><id>http://arxiv.org/abs/2611.309"
    routes = {
        "/rss/cs.CL": Answer(body=UTF7_PAST_200),
        # The payload: a good feed whose declaration names UTF-7 past 200 characters.
        "/rss/cs.LG": Answer(body=UTF7_PAST_200.replace(b"2611.109", b"2611.209")),
        # The same declaration on a query page cut short inside its third entry.
        "/api/query": Answer(body=cut_query),
        # A body that is not the gzip it claims to be.
        "/rss/cs.AI": Answer(
            body=b"junk" + gzip.compress(UTF7_PAST_200), headers={"Content-Encoding": "gzip"}
        ),
    }

    def route(path: str, headers: dict[str, str]) -> Answer:
        answer = routes[path.split("?")[0]]
        return Answer(body=answer.body, content_type="application/xml", headers=answer.headers)

    past_day = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    database = Database(database_url)
    reset_schema(database)  # the PostgreSQL database is shared by the session's tests
    try:
        with local_server(route) as server:
            env = {
                "DIGEST_DATABASE_URL": database_url,
                "DIGEST_SECRET_KEY": TEST_SECRET,
                "DIGEST_ARXIV_RSS_URL": server.url,
                "DIGEST_ARXIV_API_URL": server.url,
                "DIGEST_ARXIV_INTERVAL_SECONDS": "0",
                "DIGEST_ARXIV_LOCK_URL": "redis://127.0.0.1:1/0",  # none: the in-process rule
                "DIGEST_HTTP_RETRIES": "1",
            }

            def fetch(category: str, *args: str) -> tuple[int, str, str]:
                done = digest(
                    ["fetch", "--source", "arxiv", *args],
                    {**env, "DIGEST_ARXIV_DEFAULT_CATEGORIES": category},
                    tmp_path,
                )
                return done.returncode, done.stdout, done.stderr

            assert digest(["db", "upgrade"], env, tmp_path).returncode == 0
            code, _out, err = fetch("cs.CL")
            assert code == 0, err
            assert stored_ids(database_url) == set(GOOD_RSS)

            code, _out, err = fetch("cs.LG")
            assert code == 0, err
            assert "Traceback" not in err
            assert stored_ids(database_url) == {*GOOD_RSS, *LG_IDS}

            code, _out, err = fetch("cs.CL", "--date", past_day)
            line = the_error_line(err)
            assert code == 1
            assert line.startswith("digest: fetch from arxiv incomplete: arXiv: answer from ")
            assert "malformed XML" in line and "kept the 2 complete entries" in line
            # What came before the break is stored, and nothing stored before is lost.
            assert stored_ids(database_url) == {*GOOD_RSS, *LG_IDS, *QUERY_IDS[:2]}

            code, _out, err = fetch("cs.AI")
            line = the_error_line(err)
            assert code == 1
            assert "arXiv: unusable answer from " in line and "decompressing" in line
            assert stored_ids(database_url) == {*GOOD_RSS, *LG_IDS, *QUERY_IDS[:2]}
    finally:
        reset_schema(database)
        database.dispose()
