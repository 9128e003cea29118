"""ETag / Last-Modified per source URL, so the next request can be conditional."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.papers import Validator
from digest.store.models import HttpValidator
from digest.store.types import utcnow


def load_validator(session: Session, url: str) -> Validator | None:
    """What `url` last answered with, or None."""
    row = session.scalars(select(HttpValidator).where(HttpValidator.url == url)).one_or_none()
    if row is None:
        return None
    return Validator(row.url, row.etag, row.last_modified, row.items)


def save_validator(session: Session, validator: Validator) -> None:
    """Insert or replace the validators of one URL (in the caller's transaction)."""
    values = {
        "url": validator.url,
        "etag": validator.etag,
        "last_modified": validator.last_modified,
        "items": validator.items,
        "updated_at": utcnow(),
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(HttpValidator).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[HttpValidator.url],
        set_={k: statement.excluded[k] for k in values if k != "url"},
    )
    session.execute(statement)
