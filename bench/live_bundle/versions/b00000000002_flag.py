"""alter the hot table: a nullable column (ACCESS EXCLUSIVE, no rewrite)"""

import sqlalchemy as sa
from alembic import op

revision = "b00000000002"
down_revision = "b00000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hot", sa.Column("flag", sa.Boolean(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
