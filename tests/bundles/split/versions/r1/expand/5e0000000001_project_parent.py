"""expand r1: projects may have a parent"""

import sqlalchemy as sa
from alembic import op

revision = "5e0000000001"
down_revision = "5a0000000000"
branch_labels = ("expand",)
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("parent_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
