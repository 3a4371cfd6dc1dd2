"""Seed rows of the ArchivaLook plugin: the ``featurer`` privilege (id 7 after core's six).

Loaded by path by the engine, which calls :func:`lay` once, right after creating the plugin's
tables. The privilege lives in a core table and may outlive the plugin's own tables, so an
existing row is left alone.
"""

import sqlalchemy as sa


def lay(connection: sa.Connection, metadata: sa.MetaData) -> None:
    privileges = metadata.tables["core__privileges"]
    present = connection.execute(
        sa.select(privileges.c.id).where(privileges.c.privilege_name == "featurer")
    ).first()
    if present is None:
        connection.execute(privileges.insert(), {"privilege_name": "featurer"})
