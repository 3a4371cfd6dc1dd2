"""expand r2: tags on projects"""

import sqlalchemy as sa
from alembic import op

revision = "5e0000000002"
down_revision = "5e0000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.Unicode(32), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError
