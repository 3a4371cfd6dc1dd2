"""ArchivaLook plugin: archivalook__featured_media

The plugin's first revision, hung off core's first one. A database made before MediaGoblin used
Alembic already has the tables (laid by its legacy migrations, or by ``create_all``): when
``archivalook__featured_media`` exists, nothing is done and only the revision is recorded.

Revision ID: b10b5f822789
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b10b5f822789"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = ("archivalook_plugin",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("archivalook__featured_media"):
        return
    op.create_table(
        "archivalook__featured_media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry_id", sa.Integer(), nullable=False),
        sa.Column("display_type", sa.Unicode(), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["media_entry_id"], ["core__media_entries.id"]),
    )


def downgrade() -> None:
    op.drop_table("archivalook__featured_media")
