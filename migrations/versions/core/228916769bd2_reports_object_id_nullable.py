"""core__reports.object_id may be NULL

Some databases got this column as NOT NULL for a while; a report must survive its object (see
8429e33fdf7). Only a NOT NULL column is altered (on SQLite by copying the table, batch mode).

Revision ID: 228916769bd2
Revises: 3145accb8fe3
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "228916769bd2"
down_revision: str | Sequence[str] | None = "3145accb8fe3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns = sa.inspect(op.get_bind()).get_columns("core__reports")
    if any(c["name"] == "object_id" and c["nullable"] for c in columns):
        return
    with op.batch_alter_table("core__reports") as batch:
        batch.alter_column("object_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    pass
