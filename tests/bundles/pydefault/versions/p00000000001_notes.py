"""notes with a state: what legacy version 2 left"""

import sqlalchemy as sa
from alembic import op

revision = "p00000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("body", sa.Unicode(200), nullable=False),
        sa.Column("state", sa.Unicode(16), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError
