"""Seed rows of a fresh core schema.

A database created straight from the models must hold the same rows as one brought up through
every core revision: the privileges (five from 84879133b615, ``moderator`` from 0b8168aadeec,
inserted in that order so the ids agree too) and the standard file keynames (ec5b83933f4a).
Loaded by path by the engine; self-contained.
"""

import sqlalchemy as sa

PRIVILEGES = ("admin", "active", "uploader", "reporter", "commenter", "moderator")
FILE_KEYNAMES = ("original", "thumb", "medium")


def lay(connection: sa.Connection, metadata: sa.MetaData) -> None:
    connection.execute(
        metadata.tables["core__file_keynames"].insert(),
        [{"name": name} for name in FILE_KEYNAMES],
    )
    connection.execute(
        metadata.tables["core__privileges"].insert(),
        [{"privilege_name": name} for name in PRIVILEGES],
    )
