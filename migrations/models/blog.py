"""Current schema of the blog media type (``mediagoblin.media_types.blog``).

Loaded by path by the engine, which calls :func:`define` on a MetaData that already holds core's
tables. The tables are those a fresh MediaGoblin 0.10.0+ install holds, column for column and key
for key: constraints stay unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own
tables (and SQLite keeps none); only indexes carry an explicit name.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "mediatype__blogs",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Unicode(), nullable=True),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("author", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("slug", sa.Unicode(), nullable=True),
        sa.ForeignKeyConstraint(["author"], ["core__users.id"]),
        sa.Index("ix_mediatype__blogs_created", "created"),
        sa.Index("ix_mediatype__blogs_author", "author"),
    )

    sa.Table(
        "blogpost__mediadata",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("blog", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["blog"], ["mediatype__blogs.id"]),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )
