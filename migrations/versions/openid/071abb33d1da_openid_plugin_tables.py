"""OpenID plugin: openid__association, openid__nonce, openid__user_urls

The plugin's first revision, hung off core's first one. A database made before MediaGoblin used
Alembic already has the tables (laid by its legacy migrations, or by ``create_all``): when
``openid__association`` exists, nothing is done and only the revision is recorded.

Revision ID: 071abb33d1da
Revises: 52bf0ccbedc1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "071abb33d1da"
down_revision: str | Sequence[str] | None = "52bf0ccbedc1"
branch_labels: str | Sequence[str] | None = ("openid_plugin",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("openid__association"):
        return
    op.create_table(
        "openid__association",
        sa.Column("server_url", sa.Unicode(), primary_key=True),
        sa.Column("handle", sa.Unicode(), primary_key=True),
        sa.Column("secret", sa.Unicode(), nullable=True),
        sa.Column("issued", sa.Integer(), nullable=True),
        sa.Column("lifetime", sa.Integer(), nullable=True),
        sa.Column("assoc_type", sa.Unicode(), nullable=True),
    )
    op.create_table(
        "openid__nonce",
        sa.Column("server_url", sa.Unicode(), primary_key=True),
        sa.Column("timestamp", sa.Integer(), primary_key=True),
        sa.Column("salt", sa.Unicode(), primary_key=True),
    )
    op.create_table(
        "openid__user_urls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("openid_url", sa.Unicode(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["core__users.id"]),
    )


def downgrade() -> None:
    op.drop_table("openid__user_urls")
    op.drop_table("openid__nonce")
    op.drop_table("openid__association")
