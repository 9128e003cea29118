"""`digest subscribers import`: read a CSV or JSON Lines file of subscribers row by row,
check each row as the subscribe path and the preferences page do, and store new addresses
a batch per transaction. Known, suppressed, bounced and complained addresses are never
changed, so running the same file twice changes nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.exc import DataError, IntegrityError

from digest.addresses import normalise_email
from digest.errors import DigestError, InvalidEmail
from digest.pipeline.csv_cells import restored_cell
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.preferences import (
    InvalidPreference,
    check_edition_size,
    check_send_hour,
    check_timezone,
    check_weekday,
    parse_authors,
    parse_categories,
    parse_frequency,
    parse_topics,
)
from digest.settings import WebSettings
from digest.store.bulk import find_known, insert_subscribers
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.subscribers import SUPPRESSED_STATES
from digest.store.types import utcnow
from digest.text import FORM_CONTROLS, disallowed_character

BATCH_SIZE = 1000
MAX_LINE_LENGTH = 64 * 1024
# A column's other accepted names, e.g. the export's `edition_size` is `papers` here too.
ALIASES = {"papers": "edition_size", "hour": "send_hour", "weekday": "send_weekday"}
FIELDS = {
    "email",
    "topics",
    "categories",
    "authors",
    "timezone",
    "send_hour",
    "frequency",
    "send_weekday",
    "edition_size",
}
# Written by `digest subscribers export`; read back, they are ignored (state and consent
# come from the command line, never from the file).
IGNORED = {"state", "created_at", "confirmed_at", "unsubscribed_at", "consent", "consent_at"}
FORMATS = ("csv", "jsonl")


class UnreadableFile(DigestError):
    """The file cannot be opened or is not the CSV or JSON Lines the import reads."""


@dataclass(frozen=True)
class Consent:
    """The operator's statement that the file's addresses opted in, and how."""

    confirmed: bool
    text: str | None


@dataclass
class ImportReport:
    added: int = 0
    already_there: int = 0
    suppressed: int = 0
    invalid: int = 0
    duplicates: int = 0  # lines that repeat an earlier line's address
    confirmations_queued: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, Any]


def import_subscribers(
    database: Database,
    path: Path,
    file_format: str | None,
    consent: Consent,
    web: WebSettings,
    on_rejected: Callable[[int, str], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import the file; each rejected row goes to `on_rejected(line, reason)` as it is found
    (and is counted), so a huge file's report is streamed too."""
    report = ImportReport()
    now = utcnow()

    def reject(line: int, reason: str) -> None:
        if on_rejected is not None:
            on_rejected(line, reason)

    try:
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise UnreadableFile(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        rows = read_rows(handle, file_format or guess_format(path, handle))
        batch: list[_Row] = []
        for item in rows:
            if isinstance(item, tuple):
                report.invalid += 1
                reject(*item)
                continue
            checked = check_row(item, web)
            if isinstance(checked, str):
                report.invalid += 1
                reject(item.line, checked)
                continue
            batch.append(checked)
            if len(batch) >= batch_size:
                _store_batch(database, batch, consent, now, report, reject)
                batch = []
        _store_batch(database, batch, consent, now, report, reject)
    return report


def guess_format(path: Path, handle: IO[str]) -> str:
    """JSON Lines for .jsonl/.ndjson/.json, CSV for .csv, else by the first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    start = handle.tell()
    first = handle.read(1)
    handle.seek(start)
    return "jsonl" if first == "{" else "csv"


def read_rows(handle: IO[str], file_format: str) -> Iterator[_Row | tuple[int, str]]:
    """The file's rows with their line numbers, or (line, reason) for one that can't be read."""
    if file_format == "csv":
        return _read_csv(handle)
    if file_format == "jsonl":
        return _read_jsonl(handle)
    raise DigestError(f"--format must be one of {', '.join(FORMATS)}")


def _columns(names: Iterable[str]) -> list[str]:
    columns = [ALIASES.get(name.strip().lower(), name.strip().lower()) for name in names]
    unknown = [name for name in columns if name not in FIELDS | IGNORED]
    if unknown:
        raise UnreadableFile(
            f"unknown column {unknown[0][:40]!r} (known: {', '.join(sorted(FIELDS))})"
        )
    if "email" not in columns:
        raise UnreadableFile("the file has no email column")
    return columns


def _read_csv(handle: IO[str]) -> Iterator[_Row | tuple[int, str]]:
    records = _csv_records(handle)
    first = next(records, None)
    if first is None:
        raise UnreadableFile("the file is empty: a CSV import needs a header row")
    line, record = first
    if record is None:
        raise UnreadableFile(f"line {line}: longer than {MAX_LINE_LENGTH} characters")
    try:
        header = _csv_cells(record)
    except csv.Error as exc:
        raise UnreadableFile(f"line {line}: {exc}") from None
    columns = _columns(header)
    for line, record in records:
        if record is None:
            yield line, f"longer than {MAX_LINE_LENGTH} characters"
            continue
        try:
            cells = _csv_cells(record)
        except csv.Error as exc:
            yield line, f"not a readable CSV row ({exc})"
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns):
            yield line, f"{len(cells)} cells where the header has {len(columns)}"
            continue
        # Missing cells take their defaults; a quote the export put before a formula goes.
        yield _Row(line, dict(zip(columns, map(restored_cell, cells), strict=False)))


def _csv_cells(record: str) -> list[str]:
    return next(csv.reader([record], strict=True), [])


def _csv_records(handle: IO[str]) -> Iterator[tuple[int, str | None]]:
    """Each CSV record (one row; quoted cells may span lines) with the number of its first
    line, or None in place of a record longer than MAX_LINE_LENGTH, which is never held
    whole: memory stays bounded whatever the file holds."""
    pieces: list[str] = []
    size = quotes = 0
    first = 0
    for line, text in _lines(handle):
        if not pieces:
            first = line
        if text is None or size + len(text) > MAX_LINE_LENGTH:
            # Inside a quoted cell or not, the record ends here; the next line starts anew.
            pieces, size, quotes = [], 0, 0
            yield first, None
            continue
        pieces.append(text)
        size += len(text)
        quotes += text.count('"')
        if quotes % 2 == 0:  # every quoted cell is closed: the record is complete
            yield first, "".join(pieces)
            pieces, size, quotes = [], 0, 0
    if pieces:  # an unclosed quote at the end: the csv module says so
        yield first, "".join(pieces)


def _lines(handle: IO[str]) -> Iterator[tuple[int, str | None]]:
    """The file's lines with their numbers, None in place of one longer than
    MAX_LINE_LENGTH (read past in pieces of that size, never held whole)."""
    line = 0
    while True:
        text = handle.readline(MAX_LINE_LENGTH)
        if not text:
            return
        line += 1
        if len(text) >= MAX_LINE_LENGTH and not text.endswith(("\n", "\r")):
            while text and not text.endswith(("\n", "\r")):
                text = handle.readline(MAX_LINE_LENGTH)
            yield line, None
            continue
        yield line, text


def _read_jsonl(handle: IO[str]) -> Iterator[_Row | tuple[int, str]]:
    for line, text in _lines(handle):
        if text is None:
            yield line, f"longer than {MAX_LINE_LENGTH} characters"
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except RecursionError:  # json's decoder recurses once per level of nesting
            yield line, "nested too deeply to be a subscriber"
            continue
        except ValueError:
            yield line, "not valid JSON"
            continue
        if not isinstance(value, dict):
            yield line, "not a JSON object"
            continue
        try:
            columns = _columns(value)
        except UnreadableFile as exc:
            yield line, str(exc)
            continue
        yield _Row(line, dict(zip(columns, value.values(), strict=True)))


def check_row(row: _Row, web: WebSettings) -> _Row | str:
    """The row's values as the store takes them, or the reason it is rejected."""
    values = {name: value for name, value in row.values.items() if name in FIELDS}
    problem = _refused_character(values)
    if problem is not None:
        return problem
    try:
        email = values.get("email")
        if not isinstance(email, str):
            return "the email is missing or not text"
        checked = {
            "email": normalise_email(email),
            "topics": parse_topics(_text_list(values.get("topics"), "topics")),
            "categories": parse_categories(_text_list(values.get("categories"), "categories")),
            "authors": parse_authors(_text_list(values.get("authors"), "authors")),
            "timezone": check_timezone(_text(values.get("timezone")) or web.default_timezone),
            "send_hour": check_send_hour(
                _whole(values.get("send_hour"), "send hour", web.default_send_hour)
            ),
            "frequency": parse_frequency(_text(values.get("frequency")) or "daily"),
            "send_weekday": check_weekday(_whole(values.get("send_weekday"), "weekday", 0)),
            "edition_size": check_edition_size(
                _whole(values.get("edition_size"), "number of papers", 10)
            ),
        }
    except (InvalidEmail, InvalidPreference) as exc:
        return str(exc)
    return _Row(row.line, checked)


def _refused_character(values: Mapping[str, object]) -> str | None:
    """Why a field holds a character the web's forms refuse (the same check), or None."""
    for name, value in values.items():
        for piece in value if isinstance(value, list) else [value]:
            if not isinstance(piece, str):
                continue
            try:
                piece.encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes in the file, or "\ud800" in JSON
                return "not valid UTF-8"
            problem = disallowed_character(piece, FORM_CONTROLS)
            if problem is not None:
                return f"the {name.replace('_', ' ')} field contains {problem}"
    return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        # Named by its JSON type, not shown: a value may be nested too deep to print.
        raise InvalidPreference(f"expected text, got {_json_type(value)}")
    return value.strip()


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "null"


def _text_list(value: object, what: str) -> str | list[str] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise InvalidPreference(f"the {what} must be text or a list of text")


def _whole(value: object, what: str, default: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidPreference(f"the {what} must be a whole number")
    try:
        return int(value)
    except ValueError:
        raise InvalidPreference(f"the {what} must be a whole number") from None


def _store_batch(
    database: Database,
    batch: list[_Row],
    consent: Consent,
    now: datetime,
    report: ImportReport,
    reject: Callable[[int, str], None],
) -> None:
    if not batch:
        return
    try:
        _merge(_stored(database, batch, consent, now), report, reject)
    except (DataError, IntegrityError):
        # A row the checks let through and the database refuses: the batch again, a row a
        # transaction, so that row costs only itself. The error names its kind only: its
        # text may quote the row's values.
        for row in batch:
            try:
                _merge(_stored(database, [row], consent, now), report, reject)
            except (DataError, IntegrityError) as exc:
                report.invalid += 1
                reject(row.line, f"the database refused the row ({type(exc.orig).__name__})")


def _merge(part: ImportReport, report: ImportReport, reject: Callable[[int, str], None]) -> None:
    report.added += part.added
    report.already_there += part.already_there
    report.suppressed += part.suppressed
    report.duplicates += part.duplicates
    report.confirmations_queued += part.confirmations_queued
    for line, reason in part.rejected:
        reject(line, reason)


def _stored(database: Database, batch: list[_Row], consent: Consent, now: datetime) -> ImportReport:
    """Store the batch's new addresses in one transaction; what happened to each row."""
    part = ImportReport()
    with database.session() as session:
        known = find_known(session, [row.values["email"] for row in batch])
        first_line: dict[str, int] = {}
        new_rows: list[dict[str, Any]] = []
        for row in batch:
            email = row.values["email"]
            if email in first_line:
                part.duplicates += 1
                part.rejected.append((row.line, f"the address repeats line {first_line[email]}"))
                continue
            first_line[email] = row.line
            found = known.get(email)
            if found is None:
                new_rows.append(_new_subscriber(row.values, consent, now))
            elif found.created_at == now:
                # Stored by an earlier batch of this same import.
                part.duplicates += 1
                part.rejected.append((row.line, "the address repeats an earlier line"))
            elif found.state is None or found.state in SUPPRESSED_STATES:
                part.suppressed += 1
                part.rejected.append((row.line, _suppressed_reason(found.state)))
            else:
                part.already_there += 1
        inserted = insert_subscribers(session, new_rows, now, confirmation=CONFIRMATION_EMAIL)
    part.added += len(inserted)
    part.already_there += len(new_rows) - len(inserted)  # stored meanwhile by someone else
    part.confirmations_queued += sum(
        1 for _, state in inserted if state == SubscriberState.PENDING.value
    )
    return part


def _suppressed_reason(state: SubscriberState | None) -> str:
    if state is None:
        return "the address was deleted at its owner's request and is never mailed again"
    return f"the address is {state.value} and stays suppressed"


def _new_subscriber(values: Mapping[str, Any], consent: Consent, now: datetime) -> dict[str, Any]:
    return {
        **values,
        "state": SubscriberState.ACTIVE if consent.confirmed else SubscriberState.PENDING,
        "confirmed_at": now if consent.confirmed else None,
        "consent": consent.text,
        "consent_at": now if consent.text else None,
        "confirmation_sent_at": None,
        "unsubscribed_at": None,
    }
