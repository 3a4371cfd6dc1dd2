"""a CHECK on the hot table: fails while a row has n <= 0"""

from alembic import op

revision = "l00000000003"
down_revision = "l00000000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_check_constraint("live_hot_n_positive", "live_hot", "n > 0")


def downgrade() -> None:
    raise NotImplementedError
