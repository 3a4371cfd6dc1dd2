"""two DDL statements: a new table (commits itself), then a column on the hot table"""

import sqlalchemy as sa
from alembic import op

revision = "m00000000003"
down_revision = "m00000000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("live_side", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("live_hot", sa.Column("other", sa.Integer(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
