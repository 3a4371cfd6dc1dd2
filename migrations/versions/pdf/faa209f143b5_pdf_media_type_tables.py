"""PDF media type: pdf__mediadata

The plugin's first revision, hung off core's first one. A database made before MediaGoblin used
Alembic already has the tables (laid by its legacy migrations, or by ``create_all``): when
``pdf__mediadata`` exists, nothing is done and only the revision is recorded.

Revision ID: faa209f143b5
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "faa209f143b5"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = ("pdf_media_type",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("pdf__mediadata"):
        return
    op.create_table(
        "pdf__mediadata",
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


def downgrade() -> None:
    op.drop_table("pdf__mediadata")
