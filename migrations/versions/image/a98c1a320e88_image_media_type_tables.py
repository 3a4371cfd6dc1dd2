"""Image media type: image__mediadata

The plugin's first revision, hung off core's first one. A database made before MediaGoblin used
Alembic already has the tables (laid by its legacy migrations, or by ``create_all``): when
``image__mediadata`` exists, nothing is done and only the revision is recorded.

Revision ID: a98c1a320e88
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a98c1a320e88"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = ("image_media_type",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("image__mediadata"):
        return
    op.create_table(
        "image__mediadata",
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("exif_all", sa.UnicodeText(), nullable=True),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )


def downgrade() -> None:
    op.drop_table("image__mediadata")
