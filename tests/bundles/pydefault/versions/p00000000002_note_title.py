"""notes get an optional title"""

import sqlalchemy as sa
from alembic import op

revision = "p00000000002"
down_revision = "p00000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("title", sa.Unicode(80), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
