"""a CHECK on the plugin's table: fails while a row has id >= 100"""

from alembic import op

revision = "e00000000002"
down_revision = "e00000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_check_constraint("live_extra_id_small", "live_extra", "id < 100")


def downgrade() -> None:
    raise NotImplementedError
