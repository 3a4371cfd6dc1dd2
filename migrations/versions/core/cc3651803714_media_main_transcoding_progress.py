"""core__media_entries.main_transcoding_progress

The progress of the default resolution's transcoding, beside the overall one. A plain ALTER TABLE
ADD COLUMN on every backend, so the column comes last, as in MediaGoblin's databases.

Revision ID: cc3651803714
Revises: 228916769bd2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cc3651803714"
down_revision: str | Sequence[str] | None = "228916769bd2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns = sa.inspect(op.get_bind()).get_columns("core__media_entries")
    if any(c["name"] == "main_transcoding_progress" for c in columns):
        return
    op.add_column(
        "core__media_entries", sa.Column("main_transcoding_progress", sa.Float(), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("core__media_entries") as batch:
        batch.drop_column("main_transcoding_progress")
