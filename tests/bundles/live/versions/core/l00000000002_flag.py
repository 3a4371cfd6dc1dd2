"""a column on the hot table (ACCESS EXCLUSIVE)"""

import sqlalchemy as sa
from alembic import op

revision = "l00000000002"
down_revision = "l00000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("live_hot", sa.Column("flag", sa.Boolean(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
