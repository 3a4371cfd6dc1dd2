"""Drop notifications about tombstones; unlink reports from them

The companion of 101510e3a713 for the other two tables that point at any object: a notification
whose object is now a ``core__graveyard`` tombstone is deleted, and a report about one keeps its
row but loses the object. Data only; nothing to undo.

Revision ID: 8429e33fdf7
Revises: 101510e3a713
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8429e33fdf7"
down_revision: str | Sequence[str] | None = "101510e3a713"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

references = sa.table(
    "core__generic_model_reference", sa.column("id"), sa.column("obj_pk"), sa.column("model_type")
)
graveyard = sa.table("core__graveyard", sa.column("id"))
notifications = sa.table("core__notifications", sa.column("object_id"))
reports = sa.table("core__reports", sa.column("object_id"))


def upgrade() -> None:
    tombstones = (
        sa.select(references.c.id)
        .join(graveyard, graveyard.c.id == references.c.obj_pk)
        .where(references.c.model_type == "core__graveyard")
    )
    op.execute(notifications.delete().where(notifications.c.object_id.in_(tombstones)))
    op.execute(reports.update().where(reports.c.object_id.in_(tombstones)).values(object_id=None))


def downgrade() -> None:
    pass
