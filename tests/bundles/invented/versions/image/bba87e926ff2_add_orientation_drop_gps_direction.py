"""add orientation, drop gps direction

Images get their EXIF orientation (1-8, 1 meaning upright, which is what every existing image
is displayed as); the never-used ``gps_direction`` goes.

Revision ID: bba87e926ff2
Revises: 7d7dd81902b6
Create Date: 2014-11-20 13:02:37.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bba87e926ff2"
down_revision: str | Sequence[str] | None = "7d7dd81902b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image__mediadata") as batch:
        # drop first: SQLite batch mode places an added column after the table's last column,
        # and that column is the one going away
        batch.drop_column("gps_direction")
        batch.add_column(
            sa.Column("orientation", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch.create_check_constraint(
            "ck_image__mediadata_orientation", "orientation BETWEEN 1 AND 8"
        )


def downgrade() -> None:
    with op.batch_alter_table("image__mediadata") as batch:
        batch.drop_constraint("ck_image__mediadata_orientation", type_="check")
        batch.drop_column("orientation")
        batch.add_column(sa.Column("gps_direction", sa.Float(), nullable=True))
