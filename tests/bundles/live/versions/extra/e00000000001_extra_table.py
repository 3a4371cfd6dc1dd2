"""the plugin's table, rooted on core's root"""

import sqlalchemy as sa
from alembic import op

revision = "e00000000001"
down_revision = "l00000000001"
branch_labels = ("extra",)
depends_on = None


def upgrade() -> None:
    op.create_table("live_extra", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    raise NotImplementedError
