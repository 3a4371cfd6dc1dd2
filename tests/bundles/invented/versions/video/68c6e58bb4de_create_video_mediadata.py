"""create video mediadata

Per-entry data of video media. Needs ``core__media_entries``, hence the dependency on core's
first revision.

Revision ID: 68c6e58bb4de
Revises:
Create Date: 2013-03-02 17:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "68c6e58bb4de"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("video",)
depends_on: str | Sequence[str] | None = "ec5b83933f4a"


def upgrade() -> None:
    op.create_table(
        "video__mediadata",
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("orig_metadata", sa.UnicodeText(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_video__mediadata_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("video__mediadata")
