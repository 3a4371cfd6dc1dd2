"""a column on the hot table (one DDL statement: its metadata lock waits for readers)"""

import sqlalchemy as sa
from alembic import op

revision = "m00000000002"
down_revision = "m00000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("live_hot", sa.Column("flag", sa.Boolean(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
