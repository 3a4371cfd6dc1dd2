"""Seed rows of a fresh core schema (the root revision inserts the same)."""

import sqlalchemy as sa


def lay(connection: sa.Connection, metadata: sa.MetaData) -> None:
    connection.execute(
        metadata.tables["core__privileges"].insert(), [{"name": "admin"}, {"name": "active"}]
    )
