"""add license and notification preferences

Media entries get a license; users get a default license preference and a master switch for
notifications (on by default, so existing users keep getting them).

Revision ID: 6cc2e2d6d8bd
Revises: ec5b83933f4a
Create Date: 2013-06-18 09:12:44.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6cc2e2d6d8bd"
down_revision: str | Sequence[str] | None = "ec5b83933f4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core__media_entries") as batch:
        batch.add_column(sa.Column("license", sa.Unicode(64), nullable=True))
    with op.batch_alter_table("core__users") as batch:
        batch.add_column(sa.Column("license_preference", sa.Unicode(64), nullable=True))
        batch.add_column(
            sa.Column("wants_notifications", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("core__users") as batch:
        batch.drop_column("wants_notifications")
        batch.drop_column("license_preference")
    with op.batch_alter_table("core__media_entries") as batch:
        batch.drop_column("license")
