"""data only: drop untitled media"""

from alembic import op

revision = "c00000000002"
down_revision = "c00000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM core__media WHERE title = ''")


def downgrade() -> None:
    raise NotImplementedError
