"""add notifications

One of two revisions branching off 27bb56155eac (developed in parallel with the reports
table); 79f8d225f2cd merges them.

Revision ID: 4059b5e8f020
Revises: 27bb56155eac
Create Date: 2016-03-04 10:55:31.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4059b5e8f020"
down_revision: str | Sequence[str] | None = "27bb56155eac"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core__notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("seen", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("object_type", sa.Unicode(64), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core__users.id"],
            name="fk_core__notifications_user_id_core__users",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_core__notifications_user_id_seen", "core__notifications", ["user_id", "seen"]
    )


def downgrade() -> None:
    op.drop_index("ix_core__notifications_user_id_seen", table_name="core__notifications")
    op.drop_table("core__notifications")
