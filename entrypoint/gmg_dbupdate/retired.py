"""Rows naming revisions the bundle no longer ships (a removed plugin's, say).

Such a row is not "ahead": inside the Alembic phase's transaction, before Alembic reads the
version table, it is deleted, or replaced by its down_revision where no other row already
stands for that one. The retired component's tables hold user data and are left in place.
"""

from __future__ import annotations

from sqlalchemy import Connection

from .bundle import Bundle
from .logs import get_logger


def retire(connection: Connection, bundle: Bundle) -> list[str]:
    """Remove retired revisions from the version table; return the ones removed."""
    import sqlalchemy as sa

    name = bundle.version_table
    table = sa.table(name.name, sa.column("version_num"), schema=name.schema)
    rows = list(connection.execute(sa.select(table.c.version_num)).scalars())
    kept = [r for r in rows if r not in bundle.retired]
    present = set(sa.inspect(connection).get_table_names())
    done = []
    for revision in (r for r in rows if r in bundle.retired):
        entry = bundle.retired[revision]
        down = entry.down_revision
        where = table.c.version_num == revision
        if down is not None and down not in bundle.branches.applied(kept):
            connection.execute(table.update().where(where).values(version_num=down))
            kept.append(down)
        else:
            connection.execute(table.delete().where(where))
            down = None
        get_logger().warning(
            "revision.retired",
            revision=revision,
            component=entry.component,
            module=entry.module,
            replaced_by=down,
            tables_left=sorted(str(t) for t in entry.tables if t.name in present),
            detail="this release no longer ships it; its tables are left as they are",
        )
        done.append(revision)
    return done
