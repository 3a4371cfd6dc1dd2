"""root (unlabelled): users, media, privileges"""

import sqlalchemy as sa
from alembic import op

revision = "c00000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core__users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    op.create_table(
        "core__media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(50), nullable=False),
    )
    privileges = op.create_table(
        "core__privileges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(20), nullable=False),
    )
    op.bulk_insert(privileges, [{"name": "admin"}, {"name": "active"}])


def downgrade() -> None:
    raise NotImplementedError
