"""head A (unlabelled): media progress"""

import sqlalchemy as sa
from alembic import op

revision = "c0000000000a"
down_revision = "c00000000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("core__media") as batch:
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
