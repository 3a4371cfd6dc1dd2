"""Current schema of the image media type (``mediagoblin.media_types.image``).

Loaded by path by the engine, which calls :func:`define` on a MetaData that already holds core's
tables. The tables are those a fresh MediaGoblin 0.10.0+ install holds, column for column and key
for key: constraints stay unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own
tables (and SQLite keeps none); only indexes carry an explicit name.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "image__mediadata",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("exif_all", sa.UnicodeText(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )
