"""create featured media

Media entries picked for the archivalook front page, in display order. Needs
``core__media_entries``, hence the dependency on core's first revision.

Revision ID: 1976492c3762
Revises:
Create Date: 2015-08-14 12:31:40.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1976492c3762"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("archivalook",)
depends_on: str | Sequence[str] | None = "ec5b83933f4a"


def upgrade() -> None:
    op.create_table(
        "archivalook__featured_media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("display_type", sa.Unicode(32), nullable=False, server_default="primary"),
        sa.Column("display_order", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["media_entry"],
            ["core__media_entries.id"],
            name="fk_archivalook__featured_media_media_entry",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("media_entry", name="uq_archivalook__featured_media_media_entry"),
        sa.CheckConstraint(
            "display_type IN ('primary', 'secondary', 'tertiary')",
            name="ck_archivalook__featured_media_display_type",
        ),
    )
    op.create_index(
        "ix_archivalook__featured_media_display_order",
        "archivalook__featured_media",
        ["display_order"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_archivalook__featured_media_display_order", table_name="archivalook__featured_media"
    )
    op.drop_table("archivalook__featured_media")
