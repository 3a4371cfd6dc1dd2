"""create image mediadata

Per-entry data of image media: size, EXIF dump and GPS position. Needs
``core__media_entries``, hence the dependency on core's first revision.

Revision ID: 7d7dd81902b6
Revises:
Create Date: 2013-03-02 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d7dd81902b6"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("image",)
depends_on: str | Sequence[str] | None = "ec5b83933f4a"


def upgrade() -> None:
    op.create_table(
        "image__mediadata",
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("exif_all", sa.UnicodeText(), nullable=True),
        sa.Column("gps_longitude", sa.Float(), nullable=True),
        sa.Column("gps_latitude", sa.Float(), nullable=True),
        sa.Column("gps_altitude", sa.Float(), nullable=True),
        sa.Column("gps_direction", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_image__mediadata_media_entry_core__media_entries",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("image__mediadata")
