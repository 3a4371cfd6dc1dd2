"""Current schema of the STL media type (``mediagoblin.media_types.stl``).

Loaded by path by the engine, which calls :func:`define` on a MetaData that already holds core's
tables. The tables are those a fresh MediaGoblin 0.10.0+ install holds, column for column and key
for key: constraints stay unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own
tables (and SQLite keeps none); only indexes carry an explicit name.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "stl__mediadata",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("center_x", sa.Float(), nullable=True),
        sa.Column("center_y", sa.Float(), nullable=True),
        sa.Column("center_z", sa.Float(), nullable=True),
        sa.Column("width", sa.Float(), nullable=True),
        sa.Column("height", sa.Float(), nullable=True),
        sa.Column("depth", sa.Float(), nullable=True),
        sa.Column("file_type", sa.Unicode(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )
