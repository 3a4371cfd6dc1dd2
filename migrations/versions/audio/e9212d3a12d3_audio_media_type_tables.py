"""Audio media type: audio__mediadata

The plugin's first revision, hung off core's first one. A database made before MediaGoblin used
Alembic already has the tables (laid by its legacy migrations, or by ``create_all``): when
``audio__mediadata`` exists, nothing is done and only the revision is recorded.

Revision ID: e9212d3a12d3
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e9212d3a12d3"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = ("audio_media_type",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("audio__mediadata"):
        return
    op.create_table(
        "audio__mediadata",
        sa.Column("media_entry", sa.Integer(), primary_key=True, autoincrement=False),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )


def downgrade() -> None:
    op.drop_table("audio__mediadata")
