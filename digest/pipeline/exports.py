"""`digest subscribers export`: every subscriber (of one state, if asked) written as CSV or
JSON Lines while it is read, a batch of rows at a time."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import IO, Any

from digest.pipeline.csv_cells import csv_writer
from digest.store.bulk import EXPORTED_COLUMNS, stream_subscribers
from digest.store.db import Database
from digest.store.models import SubscriberState


def export_subscribers(
    database: Database, out: IO[str], file_format: str, state: SubscriberState | None
) -> int:
    """Write the subscribers to `out`; returns how many. Lists are comma-separated in CSV
    (as the import reads them), with formula-like cells neutralised, and arrays in JSON
    Lines, exactly as stored."""
    count = 0
    writer = csv_writer(out) if file_format == "csv" else None
    if writer is not None:
        writer.writerow(EXPORTED_COLUMNS)
    with database.session() as session:
        for row in stream_subscribers(session, state):
            values = {name: _plain(value) for name, value in row.items()}
            if writer is not None:
                writer.writerow(
                    ",".join(v) if isinstance(v, list) else ("" if v is None else v)
                    for v in values.values()
                )
            else:
                out.write(json.dumps(values, ensure_ascii=False) + "\n")
            count += 1
    return count


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value
