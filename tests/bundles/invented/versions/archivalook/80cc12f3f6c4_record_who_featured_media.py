"""record who featured media

``archivalook__featured_media.featured_by`` names the user who featured an entry. Entries
featured before this revision are credited to the first administrator: the lowest user id
holding core's ``admin`` privilege (NULL if there is none). Reading privileges needs core's
84879133b615, which created ``core__privileges`` and ``core__privileges_users``, hence the
dependency.

Revision ID: 80cc12f3f6c4
Revises: 1976492c3762
Create Date: 2016-02-02 18:09:13.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "80cc12f3f6c4"
down_revision: str | Sequence[str] | None = "1976492c3762"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "84879133b615"

featured = sa.table("archivalook__featured_media", sa.column("featured_by", sa.Integer()))
privileges = sa.table(
    "core__privileges", sa.column("id", sa.Integer()), sa.column("privilege_name", sa.Unicode(32))
)
privileges_users = sa.table(
    "core__privileges_users",
    sa.column("user_id", sa.Integer()),
    sa.column("privilege_id", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("archivalook__featured_media") as batch:
        batch.add_column(sa.Column("featured_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_archivalook__featured_media_featured_by",
            "core__users",
            ["featured_by"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(
        "ix_archivalook__featured_media_featured_by",
        "archivalook__featured_media",
        ["featured_by"],
    )
    first_admin = (
        sa.select(sa.func.min(privileges_users.c.user_id))
        .select_from(
            privileges_users.join(privileges, privileges.c.id == privileges_users.c.privilege_id)
        )
        .where(privileges.c.privilege_name == "admin")
        .scalar_subquery()
    )
    op.get_bind().execute(
        featured.update().where(featured.c.featured_by.is_(None)).values(featured_by=first_admin)
    )


def downgrade() -> None:
    op.drop_index(
        "ix_archivalook__featured_media_featured_by", table_name="archivalook__featured_media"
    )
    with op.batch_alter_table("archivalook__featured_media") as batch:
        batch.drop_constraint("fk_archivalook__featured_media_featured_by", type_="foreignkey")
        batch.drop_column("featured_by")
