"""Current schema of the ArchivaLook plugin (``mediagoblin.plugins.archivalook``).

Loaded by path by the engine, which calls :func:`define` on a MetaData that already holds core's
tables. The tables are those a fresh MediaGoblin 0.10.0+ install holds, column for column and key
for key: constraints stay unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own
tables (and SQLite keeps none); only indexes carry an explicit name.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "archivalook__featured_media",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry_id", sa.Integer(), nullable=False),
        sa.Column("display_type", sa.Unicode(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["media_entry_id"], ["core__media_entries.id"]),
    )
