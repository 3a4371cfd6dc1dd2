"""a unique index built CONCURRENTLY, outside a transaction: fails on duplicate n"""

from alembic import op

revision = "l00000000004"
down_revision = "l00000000003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Its version row commits after the block: a rerun must find the index already there.
    with op.get_context().autocommit_block():
        op.create_index(
            "live_hot_n_key",
            "live_hot",
            ["n"],
            unique=True,
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    raise NotImplementedError
