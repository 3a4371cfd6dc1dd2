"""core__subtitle_files

The subtitles plugin's table. It sits in core's folder and runs on every database, whether the
plugin is enabled or not; its branch label is the plugin's.

Revision ID: afd3d1da5e29
Revises: 228916769bd2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "afd3d1da5e29"
down_revision: str | Sequence[str] | None = "228916769bd2"
branch_labels: str | Sequence[str] | None = ("subtitles_plugin",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("core__subtitle_files"):
        return
    op.create_table(
        "core__subtitle_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("media_entry", sa.Integer(), nullable=False),
        sa.Column("name", sa.Unicode(), nullable=False),
        sa.Column("filepath", sa.Unicode(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["media_entry"], ["core__media_entries.id"]),
    )


def downgrade() -> None:
    op.drop_table("core__subtitle_files")
