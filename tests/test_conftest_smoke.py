from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import Subscriber
from digest.store.subscribers import add_subscriber


def test_store_round_trip(db: Database) -> None:
    with db.session() as session:
        add_subscriber(session, "Foo@Example.com", confirmed=True)
    with db.session() as session:
        found = session.scalars(select(Subscriber)).one()
        assert found.email == "foo@example.com"
        assert found.created_at.tzinfo is not None
