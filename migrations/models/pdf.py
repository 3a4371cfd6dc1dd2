"""Current schema of the PDF media type (``mediagoblin.media_types.pdf``).

Loaded by path by the engine, which calls :func:`define` on a MetaData that already holds core's
tables. The tables are those a fresh MediaGoblin 0.10.0+ install holds, column for column and key
for key: constraints stay unnamed so that PostgreSQL gives them the names it gave MediaGoblin's own
tables (and SQLite keeps none); only indexes carry an explicit name.
"""

import sqlalchemy as sa


def define(metadata: sa.MetaData) -> None:
    sa.Table(
        "pdf__mediadata",
        metadata,
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("pdf_author", sa.Unicode(), nullable=True),
        sa.Column("pdf_title", sa.Unicode(), nullable=True),
        sa.Column("pdf_keywords", sa.Unicode(), nullable=True),
        sa.Column("pdf_creator", sa.Unicode(), nullable=True),
        sa.Column("pdf_producer", sa.Unicode(), nullable=True),
        sa.Column("pdf_creation_date", sa.DateTime(), nullable=True),
        sa.Column("pdf_modified_date", sa.DateTime(), nullable=True),
        sa.Column("pdf_version_major", sa.Integer(), nullable=True),
        sa.Column("pdf_version_minor", sa.Integer(), nullable=True),
        sa.Column("pdf_page_size_width", sa.Float(), nullable=True),
        sa.Column("pdf_page_size_height", sa.Float(), nullable=True),
        sa.Column("pdf_pages", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )
