"""initial (unlabelled): the schema every legacy repository at 74 left"""

import sqlalchemy as sa
from alembic import op
from splitapp.naming import NAME_LENGTH

revision = "5a0000000000"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Unicode(NAME_LENGTH), nullable=False),
        sa.Column("domain", sa.Unicode(NAME_LENGTH), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError
