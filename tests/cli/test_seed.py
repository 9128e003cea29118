"""`digest subscribers seed`, `seeds` and `unseed`, run as an operator runs them, on SQLite
and PostgreSQL, with arXiv's API stood in on 127.0.0.1: a list of subscribers gets a list of
papers, arXiv is asked once, each bad entry is a line on stderr and nothing is half added."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import SeedPaper, Subscriber
from tests.cli.command import digest
from tests.conftest import REDIS_URL
from tests.factories import make_subscriber
from tests.sources.arxiv_standin import arxiv_standin, asked_ids

SECRET = "seed-test-secret-key-0123456789abcdef"
ZOTERO_BIB = """\
@article{quinlan2024,
  title = {Grasping in {Clutter}},
  author = {Quinlan, Ada and Chen, Bo},
  abstract = {Robot hands pick objects from cluttered bins.},
  year = {2024},
}
@misc{hands2024,
  title = {Dexterous Robot Hands Grasp Household Objects},
  eprint = {2406.00001},
  archivePrefix = {arXiv},
}
"""


def environment(database_url: str, arxiv_url: str) -> dict[str, str]:
    return {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_ARXIV_API_URL": arxiv_url,
        "DIGEST_ARXIV_LOCK_URL": REDIS_URL,
        "DIGEST_ARXIV_INTERVAL_SECONDS": "0",
        "DIGEST_HTTP_RETRIES": "0",
    }


def seeds_by_address(db: Database) -> dict[str, list[str]]:
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, SeedPaper.title)
            .join(SeedPaper, SeedPaper.subscriber_id == Subscriber.id)
            .order_by(SeedPaper.id)
        )
        found: dict[str, list[str]] = {}
        for email, title in rows:
            found.setdefault(email, []).append(title)
        return found


def test_a_list_of_subscribers_gets_a_file_of_papers_once_looked_up(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        make_subscriber(session, "ada@example.com")
        make_subscriber(session, "bo@example.com")
    library = tmp_path / "My Library.bib"
    library.write_text(ZOTERO_BIB, encoding="utf-8")
    with arxiv_standin() as arxiv:
        env = environment(database_url, arxiv.url)
        done = digest(
            ["subscribers", "seed", "ada@example.com", "BO@example.com", "--file", str(library),
             "--paper", "https://arxiv.org/abs/2406.00002v1"],
            env,
            tmp_path,
        )  # fmt: skip
        again = digest(
            ["subscribers", "seed", "ada@example.com", "--paper", "2406.00001"], env, tmp_path
        )
        listed = digest(["subscribers", "seeds", "ada@example.com"], env, tmp_path)
        assert asked_ids(arxiv) == [["2406.00001", "2406.00002"]]  # once, for both

    assert done.returncode == 0, done.stderr
    assert done.stdout == "added 6 · already there 0 · skipped 0 · entries 3\n"
    assert again.stdout == "added 0 · already there 1 · skipped 0 · entries 1\n"
    titles = [
        "Tactile Manipulation with Soft Grippers",
        "Grasping in Clutter",
        "Dexterous Robot Hands Grasp Household Objects",
    ]
    assert seeds_by_address(db) == {"ada@example.com": titles, "bo@example.com": titles}
    lines = listed.stdout.splitlines()
    assert lines[-1] == "3 seed papers"
    assert lines[0].endswith(" · arXiv:2406.00002 · Tactile Manipulation with Soft Grippers")
    assert lines[1].endswith(" · - · Grasping in Clutter")


def test_bad_entries_are_each_a_line_and_nothing_is_added_unless_skipped(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        make_subscriber(session, "ada@example.com")
    library = tmp_path / "refs.ris"
    library.write_text(
        "TY  - JOUR\nTI  - Grasping\nAB  - Robot hands.\nER  - \n"
        "TY  - JOUR\nTI  - Only a title nobody stored\nER  - \n"
        "TY  - JOUR\nDO  - 10.9999/nowhere\nER  - \n",
        encoding="utf-8",
    )
    with arxiv_standin() as arxiv:
        env = environment(database_url, arxiv.url)
        refused = digest(
            ["subscribers", "seed", "ada@example.com", "--file", str(library)], env, tmp_path
        )
        skipped = digest(
            ["subscribers", "seed", "ada@example.com", "--file", str(library), "--skip-bad"],
            env,
            tmp_path,
        )
        unknown = digest(
            ["subscribers", "seed", "nobody@example.com", "--paper", "x y z"], env, tmp_path
        )

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "entry 2 (line 5): not found: no paper here has this title, and the entry has no "
        "abstract to use (give its arXiv id, or its title and abstract)",
        "entry 3 (line 8): not found: no paper here has DOI 10.9999/nowhere, and the entry has "
        "no abstract to use (give its arXiv id, or its title and abstract)",
        "digest: 2 of 3 entries cannot be used, so nothing was added",
    ]
    assert skipped.returncode == 0
    assert skipped.stdout == "added 1 · already there 0 · skipped 2 · entries 3\n"
    assert seeds_by_address(db) == {"ada@example.com": ["Grasping"]}
    assert (
        unknown.returncode == 1 and unknown.stderr == "digest: no subscriber nobody@example.com\n"
    )


def test_unseed_removes_by_id_or_all(db: Database, database_url: str, tmp_path: Path) -> None:
    with db.session() as session:
        reader = make_subscriber(session, "ada@example.com")
        for title in ("One", "Two", "Three"):
            session.add(
                SeedPaper(subscriber_id=reader.id, key=f"title:{title}", title=title, origin="file")
            )
    with db.session() as session:
        first = session.scalars(select(SeedPaper.id).order_by(SeedPaper.id)).first()
    env = environment(database_url, "http://127.0.0.1:9")

    one = digest(["subscribers", "unseed", "ada@example.com", str(first)], env, tmp_path)
    assert one.stdout == "removed 1 seed papers\n"
    assert seeds_by_address(db) == {"ada@example.com": ["Two", "Three"]}
    nothing = digest(["subscribers", "unseed", "ada@example.com"], env, tmp_path)
    assert nothing.returncode == 2
    rest = digest(["subscribers", "unseed", "ada@example.com", "--all"], env, tmp_path)
    assert rest.stdout == "removed 2 seed papers\n"
    assert seeds_by_address(db) == {}
