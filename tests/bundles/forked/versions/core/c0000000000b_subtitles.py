"""head B, labelled subtitles_plugin but in core's folder: subtitles"""

import sqlalchemy as sa
from alembic import op

revision = "c0000000000b"
down_revision = "c00000000002"
branch_labels = ("subtitles_plugin",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core__subtitles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media", sa.Integer(), sa.ForeignKey("core__media.id"), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError
