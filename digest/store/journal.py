"""The send journal: marks of messages the SMTP server accepted that the database could not
take, kept in a local file and written to the database before the next send.

It is the last resort behind `DeliveryRecorder`'s reconnect-and-retry: only a database that
stays unreachable for the whole retry period sends a mark here. Each line is one JSON
object, appended and flushed to disk before the sender stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from digest.store.db import Database
from digest.store.models import Delivery, DeliveryPaper, DeliveryStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentMark:
    """Everything the sent mark of one accepted digest writes."""

    delivery_id: int
    message_id: str
    finished_at: str  # ISO 8601, UTC
    papers: list[tuple[int, int, str | None]]  # (paper id, rank, why)


def write_sent(connection: Connection, mark: SentMark) -> bool:
    """Mark the row sent with its papers; False (and nothing written) if it already was, so
    writing one mark twice (a retried commit, a replayed journal) is harmless."""
    marked = connection.execute(
        update(Delivery)
        .where(Delivery.id == mark.delivery_id, Delivery.status != DeliveryStatus.SENT)
        .values(
            status=DeliveryStatus.SENT,
            message_id=mark.message_id,
            error=None,
            lease_until=None,
            in_flight_since=None,
            finished_at=datetime.fromisoformat(mark.finished_at),
        )
    )
    if marked.rowcount != 1:
        return False
    if mark.papers:
        connection.execute(
            insert(DeliveryPaper),
            [
                {"delivery_id": mark.delivery_id, "paper_id": paper_id, "rank": rank, "why": why}
                for paper_id, rank, why in mark.papers
            ],
        )
    return True


class SendJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, mark: SentMark) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(mark), separators=(",", ":")) + "\n"
        with self._locked("a") as journal:
            journal.write(line)
            journal.flush()
            os.fsync(journal.fileno())

    def replay(self, db: Database) -> int:
        """Write every journalled mark to the database, then empty the journal; the number
        of rows it marked. A database error leaves the journal as it was."""
        if not self.path.exists():
            return 0
        with self._locked("r+") as journal:
            marks = [mark for line in journal if (mark := _parse(line)) is not None]
            with db.engine.begin() as connection:
                written = sum(write_sent(connection, mark) for mark in marks)
            journal.seek(0)
            journal.truncate()
        if marks:
            log.warning(
                "replayed %d journalled send marks (%d rows were not yet marked)",
                len(marks),
                written,
            )
        return written

    @contextlib.contextmanager
    def _locked(self, mode: str) -> Iterator[IO[str]]:
        with open(self.path, mode, encoding="utf-8") as journal:
            fcntl.flock(journal, fcntl.LOCK_EX)
            try:
                yield journal
            finally:
                fcntl.flock(journal, fcntl.LOCK_UN)


def _parse(line: str) -> SentMark | None:
    if not line.strip():
        return None
    try:
        data = json.loads(line)
        return SentMark(
            delivery_id=int(data["delivery_id"]),
            message_id=str(data["message_id"]),
            finished_at=str(data["finished_at"]),
            papers=[(int(p), int(r), None if w is None else str(w)) for p, r, w in data["papers"]],
        )
    except (ValueError, KeyError, TypeError):
        log.error("skipping an unreadable line of the send journal")
        return None
