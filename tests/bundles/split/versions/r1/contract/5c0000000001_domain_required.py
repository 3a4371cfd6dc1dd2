"""contract r1: every project has a domain (filled since legacy 74)"""

import sqlalchemy as sa
from alembic import op

revision = "5c0000000001"
down_revision = "5a0000000000"
branch_labels = ("contract",)
depends_on = "5e0000000001"


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.alter_column("domain", existing_type=sa.Unicode(64), nullable=False)


def downgrade() -> None:
    raise NotImplementedError
