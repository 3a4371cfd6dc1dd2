"""Notifications point at the comment link, not at the comment text

Since legacy migration 41 a comment is a ``core__comment_links`` row joining the commented object
to the comment's content; a notification about a comment now refers (through
``core__generic_model_reference``) to that link instead of to the content. The reference row for
a link is made when missing. A notification whose object is no comment's content is left as it
is. Data only; not undone.

Revision ID: 4066b9f8b84a
Revises: 8429e33fdf7
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4066b9f8b84a"
down_revision: str | Sequence[str] | None = "8429e33fdf7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINK_TYPE = "core__comment_links"

references = sa.table(
    "core__generic_model_reference", sa.column("id"), sa.column("obj_pk"), sa.column("model_type")
)
links = sa.table(LINK_TYPE, sa.column("id"), sa.column("comment_id"))
notifications = sa.table("core__notifications", sa.column("id"), sa.column("object_id"))


def _reference_to(connection: sa.Connection, link_id: int) -> int:
    find = sa.select(references.c.id).where(
        references.c.model_type == LINK_TYPE, references.c.obj_pk == link_id
    )
    found = connection.execute(find).scalar()
    if found is None:
        # (model_type, obj_pk) is unique: read the new row back instead of relying on RETURNING
        connection.execute(references.insert().values(obj_pk=link_id, model_type=LINK_TYPE))
        found = connection.execute(find).scalar_one()
    return found


def upgrade() -> None:
    connection = op.get_bind()
    # the first link of each comment content (a content has one link in practice)
    first_link = (
        sa.select(sa.func.min(links.c.id))
        .where(links.c.comment_id == notifications.c.object_id)
        .scalar_subquery()
    )
    rows = connection.execute(
        sa.select(notifications.c.id, first_link.label("link_id")).order_by(notifications.c.id)
    ).all()
    for notification_id, link_id in rows:
        if link_id is None:
            continue
        connection.execute(
            notifications.update()
            .where(notifications.c.id == notification_id)
            .values(object_id=_reference_to(connection, link_id))
        )


def downgrade() -> None:
    pass
