"""add reports and moderator privilege

One of two revisions branching off 27bb56155eac (developed in parallel with notifications);
79f8d225f2cd merges them. Adds the ``core__reports`` table and the ``moderator`` privilege that
may resolve reports. No user gets the new privilege automatically.

Revision ID: 0b8168aadeec
Revises: 27bb56155eac
Create Date: 2016-03-09 16:41:08.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0b8168aadeec"
down_revision: str | Sequence[str] | None = "27bb56155eac"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

privileges = sa.table(
    "core__privileges", sa.column("id", sa.Integer()), sa.column("privilege_name", sa.Unicode(32))
)
privileges_users = sa.table(
    "core__privileges_users",
    sa.column("user_id", sa.Integer()),
    sa.column("privilege_id", sa.Integer()),
)


def upgrade() -> None:
    op.create_table(
        "core__reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reported_user_id", sa.Integer(), nullable=False),
        sa.Column("report_content", sa.UnicodeText(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("resolver_id", sa.Integer(), nullable=True),
        sa.Column("resolved", sa.DateTime(), nullable=True),
        sa.Column("result", sa.UnicodeText(), nullable=True),
        sa.Column("media_entry_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["core__users.id"],
            name="fk_core__reports_reporter_id_core__users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reported_user_id"],
            ["core__users.id"],
            name="fk_core__reports_reported_user_id_core__users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolver_id"],
            ["core__users.id"],
            name="fk_core__reports_resolver_id_core__users",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["media_entry_id"],
            ["core__media_entries.id"],
            name="fk_core__reports_media_entry_id_core__media_entries",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["core__media_comments.id"],
            name="fk_core__reports_comment_id_core__media_comments",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "resolved IS NOT NULL OR result IS NULL", name="ck_core__reports_result_when_resolved"
        ),
    )
    op.create_index("ix_core__reports_reported_user_id", "core__reports", ["reported_user_id"])
    op.bulk_insert(privileges, [{"privilege_name": "moderator"}])


def downgrade() -> None:
    bind = op.get_bind()
    moderator = (
        sa.select(privileges.c.id)
        .where(privileges.c.privilege_name == "moderator")
        .scalar_subquery()
    )
    bind.execute(privileges_users.delete().where(privileges_users.c.privilege_id == moderator))
    bind.execute(privileges.delete().where(privileges.c.privilege_name == "moderator"))
    op.drop_index("ix_core__reports_reported_user_id", table_name="core__reports")
    op.drop_table("core__reports")
