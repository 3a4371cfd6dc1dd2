"""add media updated, backfilled from created

``core__media_entries.updated`` is NOT NULL. Existing entries have never been edited as far as
we know, so each gets ``updated = created``; new rows default to the current time. The column
is added nullable, filled, then tightened (a table copy on SQLite, which cannot add a column
with a non-constant default).

Revision ID: cd31488a3b71
Revises: 049d1330c8d8
Create Date: 2017-02-07 11:20:58.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cd31488a3b71"
down_revision: str | Sequence[str] | None = "049d1330c8d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

media_entries = sa.table(
    "core__media_entries",
    sa.column("created", sa.DateTime()),
    sa.column("updated", sa.DateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("core__media_entries") as batch:
        batch.add_column(sa.Column("updated", sa.DateTime(), nullable=True))
    op.get_bind().execute(
        media_entries.update()
        .where(media_entries.c.updated.is_(None))
        .values(updated=media_entries.c.created)
    )
    with op.batch_alter_table("core__media_entries") as batch:
        batch.alter_column(
            "updated",
            existing_type=sa.DateTime(),
            nullable=False,
            server_default=sa.func.now(),
        )


def downgrade() -> None:
    with op.batch_alter_table("core__media_entries") as batch:
        batch.drop_column("updated")
