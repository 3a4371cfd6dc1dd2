"""Drop collection items whose object is a tombstone

Deleting a media entry leaves a ``core__graveyard`` row in its place and re-points its
``core__generic_model_reference`` row at that tombstone, so collections went on listing deleted
media. This removes those items. Data only; nothing to undo.

Revision ID: 101510e3a713
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "101510e3a713"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

references = sa.table(
    "core__generic_model_reference", sa.column("id"), sa.column("obj_pk"), sa.column("model_type")
)
graveyard = sa.table("core__graveyard", sa.column("id"))
collection_items = sa.table("core__collection_items", sa.column("object_id"))


def upgrade() -> None:
    tombstones = (
        sa.select(references.c.id)
        .join(graveyard, graveyard.c.id == references.c.obj_pk)
        .where(references.c.model_type == "core__graveyard")
    )
    op.execute(collection_items.delete().where(collection_items.c.object_id.in_(tombstones)))


def downgrade() -> None:
    pass
