"""Drop comment links whose comment is a tombstone

A deleted comment's content becomes a ``core__graveyard`` tombstone, but its
``core__comment_links`` row stayed and still showed under the media. Data only; nothing to undo.

Revision ID: 3145accb8fe3
Revises: 4066b9f8b84a
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3145accb8fe3"
down_revision: str | Sequence[str] | None = "4066b9f8b84a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

references = sa.table("core__generic_model_reference", sa.column("id"), sa.column("model_type"))
links = sa.table("core__comment_links", sa.column("comment_id"))


def upgrade() -> None:
    tombstones = sa.select(references.c.id).where(references.c.model_type == "core__graveyard")
    op.execute(links.delete().where(links.c.comment_id.in_(tombstones)))


def downgrade() -> None:
    pass
