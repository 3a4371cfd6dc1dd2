"""contract r2: tag names are looked up (needs the tags table of expand r2)"""

from alembic import op

revision = "5c0000000002"
down_revision = "5c0000000001"
branch_labels = None
depends_on = "5e0000000002"


def upgrade() -> None:
    op.create_index("ix_tags_name", "tags", ["name"])


def downgrade() -> None:
    raise NotImplementedError
