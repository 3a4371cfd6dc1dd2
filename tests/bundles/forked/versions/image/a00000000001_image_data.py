"""image plugin, rooted on core's root"""

import sqlalchemy as sa
from alembic import op

revision = "a00000000001"
down_revision = "c00000000001"
branch_labels = ("image_media_type",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image__data",
        sa.Column("media", sa.Integer(), sa.ForeignKey("core__media.id"), primary_key=True),
        sa.Column("width", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError
