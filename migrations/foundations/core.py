"""Seed rows of a fresh core schema: the six privileges, in MediaGoblin's order (ids 1-6).

Loaded by path by the engine, which calls :func:`lay` once, right after creating the tables.
"""

import sqlalchemy as sa

PRIVILEGES = ("admin", "moderator", "uploader", "reporter", "commenter", "active")


def lay(connection: sa.Connection, metadata: sa.MetaData) -> None:
    # ids come from the sequence, so later inserts by the application do not collide
    connection.execute(
        metadata.tables["core__privileges"].insert(),
        [{"privilege_name": name} for name in PRIVILEGES],
    )
